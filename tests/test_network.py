"""The MLP: construction, state dicts, forward/predict, summary, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet


def test_state_dict_layout_and_shapes(backend):
    net = xpnet.MLP([5, 8, 6, 3], batch_norm=True, backend=backend, seed=0, dropout=0.0)
    sd = net.state_dict()
    assert list(sd) == [
        "dense0.weight",
        "dense0.bias",
        "bn0.weight",
        "bn0.bias",
        "bn0.running_mean",
        "bn0.running_var",
        "dense1.weight",
        "dense1.bias",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "dense2.weight",
        "dense2.bias",
    ]
    assert tuple(sd["dense0.weight"].shape) == (5, 8) and tuple(sd["dense2.bias"].shape) == (3,)
    assert net.n_params == 5 * 8 + 8 + 16 + 8 * 6 + 6 + 12 + 6 * 3 + 3


def test_state_dict_is_a_copy(backend):
    net = xpnet.MLP([3, 4, 2], backend=backend, seed=0, dropout=0.0)
    snap = net.state_dict()
    before = backend.to_numpy(snap["dense0.weight"]).copy()
    net.params["dense0.weight"] -= 1.0  # an in-place update, as optimizers do
    assert np.array_equal(backend.to_numpy(snap["dense0.weight"]), before)


def test_same_seed_same_network_on_every_backend(backend):
    ref = xpnet.MLP([6, 7, 3], init="glorot_uniform", seed=11, dropout=0.0).state_dict()
    other = xpnet.MLP([6, 7, 3], init="glorot_uniform", backend=backend, seed=11, dropout=0.0).state_dict()
    for key in ref:
        assert np.array_equal(np.asarray(ref[key]), backend.to_numpy(other[key]))


def test_load_state_dict_roundtrip_and_errors(backend):
    a = xpnet.MLP([3, 4, 2], backend=backend, seed=0, dropout=0.0)
    b = xpnet.MLP([3, 4, 2], seed=1, dropout=0.0)  # numpy arrays load into any backend
    a.load_state_dict(b.state_dict())
    for key, value in b.state_dict().items():
        assert np.array_equal(backend.to_numpy(a.state_dict()[key]), value)
    with pytest.raises(ValueError, match="missing"):
        a.load_state_dict({"dense0.weight": np.zeros((3, 4))})
    bad = b.state_dict()
    bad["dense0.weight"] = np.zeros((4, 4))
    with pytest.raises(ValueError, match="shape"):
        a.load_state_dict(bad)


def test_forward_predict_and_proba(backend):
    net = xpnet.MLP([4, 6, 3], backend=backend, seed=0, dropout=0.0)
    X = np.random.default_rng(0).standard_normal((10, 4))
    proba = net.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (10, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(net.predict(X), proba.argmax(axis=1))
    binary = xpnet.MLP([4, 3, 1], output="sigmoid", backend=backend, seed=0, dropout=0.0)
    p = binary.predict_proba(X)[:, 0]
    assert np.array_equal(binary.predict(X), (p >= 0.5).astype(int))


def test_dropout_only_in_training(backend):
    net = xpnet.MLP([4, 50, 3], dropout=0.5, backend=backend, seed=0)
    X = np.random.default_rng(0).standard_normal((20, 4))
    eval_out = backend.to_numpy(net.forward(X))
    assert np.array_equal(eval_out, backend.to_numpy(net.forward(X)))  # deterministic
    train_out = backend.to_numpy(net.forward(X, training=True))
    assert not np.allclose(train_out, eval_out)


def test_value_and_grad_changes_nothing(backend):
    net = xpnet.MLP([4, 5, 3], batch_norm=True, dropout=0.2, backend=backend, seed=0)
    before = {k: backend.to_numpy(v).copy() for k, v in net.state_dict().items()}
    net.value_and_grad(np.ones((6, 4)) * np.arange(6)[:, None], [0, 1, 2, 0, 1, 2])
    for key, value in net.state_dict().items():
        assert np.array_equal(backend.to_numpy(value), before[key]), key


def test_summary_and_repr():
    net = xpnet.MLP([64, 128, 10], dropout=0.2, init="he_uniform", seed=0)
    text = net.summary()
    for part in (
        "dense0: 64 -> 128",
        "relu",
        "dropout 0.2",
        "softmax",
        "he_uniform",
        "8,320",
        "9,610",
        "numpy",
        "float32",
    ):
        assert part in text
    assert "params=9610" in repr(net) and "backend='numpy'" in repr(net)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"layers": [4]}, ValueError, "at least two sizes"),
        ({"layers": [4, 0, 2]}, ValueError, "integer >= 1"),
        ({"layers": "4,2"}, TypeError, "list of layer sizes"),
        ({"activation": "gelu"}, ValueError, "activation='gelu' is unknown; choose one of sigmoid"),
        ({"output": "relu"}, ValueError, "output='relu' is unknown"),
        ({"init": "orthogonal"}, ValueError, "init='orthogonal' is unknown"),
        ({"dropout": 1.0}, ValueError, r"dropout=1.0 .* \[0, 1\)"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"dtype": "int32"}, TypeError, "dtype='int32' is not allowed"),
        ({"backend": "mxnet"}, ValueError, "backend='mxnet' is unknown"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"layers": [4, 3, 2], **kwargs}
    with pytest.raises(error, match=match):
        xpnet.MLP(**args)


def test_bad_inputs_to_forward():
    net = xpnet.MLP([4, 3, 2], dropout=0.0)
    with pytest.raises(ValueError, match="expects 4"):
        net.forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match="NaN or inf"):
        net.forward(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="empty"):
        net.forward(np.ones((0, 4)))
    with pytest.raises(ValueError, match="2-D"):
        net.forward(np.ones(4))
