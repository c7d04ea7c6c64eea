"""Your own CSV in, predictions out: train, save, `xpnet predict`, ONNX export, torch round trip."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import xpnet
from xpnet.cli import main


def _write_csv(path, n, seed):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 3)), 5)  # exactly what the CSV holds
    labels = np.array(["setosa", "versicolor", "virginica"])[
        np.argmax(X @ [[1, -1, 0], [0, 1, -1], [1, 0, 1]], 1)
    ]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sepal", "petal", "stem", "species"])
        for row, lab in zip(X, labels, strict=True):
            w.writerow([f"{v:.5f}" for v in row] + [lab])
    return X, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("own")
    _write_csv(d / "train.csv", 400, 0)
    X_new, labels_new = _write_csv(d / "new.csv", 50, 1)
    rc = main(
        [
            "-q",
            "train",
            "--data",
            str(d / "train.csv"),
            "--target",
            "species",
            "--epochs",
            "30",
            "--save",
            str(d / "model.npz"),
            "--json",
            "--log-every",
            "0",
        ]
    )
    assert rc == 0
    return d, X_new, labels_new


def test_train_csv_save_predict_cli_onnx_same_predictions(trained, capsys):
    ort = pytest.importorskip(
        "onnxruntime", reason="onnxruntime is not installed (pip install 'xpnet[onnx]')"
    )
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'xpnet[onnx]')")
    d, X_new, labels_new = trained
    net = xpnet.load(d / "model.npz")
    in_python = net.predict(X_new)
    assert set(in_python) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(in_python == labels_new) > 0.8  # it learned something
    assert main(["predict", str(d / "model.npz"), str(d / "new.csv"), "--out", str(d / "pred.csv")]) == 0
    with open(d / "pred.csv") as f:
        from_cli = [row["prediction"] for row in csv.DictReader(f)]
    np.testing.assert_array_equal(from_cli, in_python)
    assert main(["export", str(d / "model.npz"), "--onnx", str(d / "model.onnx")]) == 0
    session = ort.InferenceSession(str(d / "model.onnx"))
    proba = session.run(None, {"X": X_new.astype(np.float32)})[0]
    np.testing.assert_allclose(proba, net.predict_proba(X_new), atol=1e-5)
    classes = json.loads(session.get_modelmeta().custom_metadata_map["xpnet"])["classes"]
    np.testing.assert_array_equal(np.array(classes)[proba.argmax(1)], in_python)


def test_predict_proba_json_batch_by_batch(trained):
    d, X_new, _ = trained
    out = d / "proba.json"
    assert (
        main(
            [
                "predict",
                str(d / "model.npz"),
                str(d / "new.csv"),
                "--proba",
                "--out",
                str(out),
                "--batch-size",
                "7",
            ]
        )
        == 0
    )
    records = json.loads(out.read_text())
    assert len(records) == 50 and list(records[0]) == ["p_setosa", "p_versicolor", "p_virginica"]
    proba = np.array([list(r.values()) for r in records])
    np.testing.assert_allclose(proba, xpnet.load(d / "model.npz").predict_proba(X_new), rtol=1e-6)


def test_predict_errors(trained, tmp_path, capsys):
    d, _, _ = trained
    (tmp_path / "bad.csv").write_text("sepal,stem\n1,2\n")
    assert main(["predict", str(d / "model.npz"), str(tmp_path / "bad.csv")]) == 2
    assert "lacks the feature column(s) petal" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("activation", "output", "batch_norm", "n_out"),
    [
        ("relu", "softmax", True, 3),
        ("tanh", "sigmoid", False, 1),
        ("leaky_relu", "identity", True, 2),
        ("sigmoid", "softmax", False, 4),
    ],
)
def test_onnx_every_activation_and_output(tmp_path, activation, output, batch_norm, n_out):
    ort = pytest.importorskip(
        "onnxruntime", reason="onnxruntime is not installed (pip install 'xpnet[onnx]')"
    )
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'xpnet[onnx]')")
    from xpnet.export_onnx import OPSET, save_onnx
    from xpnet.preprocess import Preprocessor

    net = xpnet.MLP(
        [5, 8, 6, n_out], activation=activation, output=output, batch_norm=batch_norm, dropout=0.1, seed=3
    )
    rng = np.random.default_rng(0)
    if batch_norm:  # non-trivial running statistics
        net.buffers["bn0.running_mean"] = net._put(rng.normal(size=8))
        net.buffers["bn0.running_var"] = net._put(rng.uniform(0.5, 2, size=8))
    net.preprocessor = Preprocessor(rng.normal(size=5), rng.uniform(0.5, 2, size=5))
    save_onnx(net, tmp_path / "m.onnx")
    import onnx

    model = onnx.load(str(tmp_path / "m.onnx"))
    assert model.opset_import[0].version == OPSET >= 17
    assert model.graph.node[0].op_type == "Sub" and model.graph.node[1].op_type == "Div"
    X = rng.normal(size=(20, 5)) * 3
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"X": X.astype(np.float32)})[0]
    np.testing.assert_allclose(got, net.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_round_trip_identical_outputs(dtype):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    net = xpnet.MLP([6, 10, 7, 3], activation="leaky_relu", batch_norm=True, dropout=0.2, dtype=dtype, seed=2)
    rng = np.random.default_rng(1)
    net.buffers["bn1.running_var"] = net._put(rng.uniform(0.5, 2, size=7))
    X = rng.normal(size=(16, 6))
    module = net.to_torch()
    assert isinstance(module, torch.nn.Sequential) and not module.training
    with torch.no_grad():
        out = module(torch.tensor(X, dtype=torch.float64 if dtype == "float64" else torch.float32)).numpy()
    np.testing.assert_allclose(out, net.predict_proba(X), rtol=0, atol=1e-6 if dtype == "float32" else 1e-12)
    back = xpnet.from_torch(module)
    assert back.config() | {"seed": None} == net.config() | {"seed": None}
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))


def test_from_torch_rejects_other_modules():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        xpnet.from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="cannot convert"):
        xpnet.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.GELU(), torch.nn.Linear(3, 2)))


def test_predict_on_another_backend(trained, tmp_path):
    pytest.importorskip("torch", reason="torch is not installed")
    d, _, _ = trained
    outs = {}
    for backend in ("numpy", "torch"):
        out = tmp_path / f"{backend}.csv"
        assert (
            main(
                [
                    "predict",
                    str(d / "model.npz"),
                    str(d / "new.csv"),
                    "--backend",
                    backend,
                    "--proba",
                    "--out",
                    str(out),
                    "--batch-size",
                    "16",
                ]
            )
            == 0
        )
        outs[backend] = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(outs["torch"], outs["numpy"], atol=1e-6)
