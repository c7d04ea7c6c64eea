"""Ensembles (issue 18 item 3): metrics, averaging, files, ``xpnet train --ensemble K``, ``n_ensemble=K``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xpnet import MLP, RunConfig
from xpnet.cli import main
from xpnet.data import load_dataset
from xpnet.ensemble import Ensemble, fit_ensemble, load_ensemble, load_model, member_configs
from xpnet.metrics import expected_calibration_error, negative_log_likelihood, probability_metrics
from xpnet.network import load
from xpnet.preprocess import Preprocessor

# --- metrics on hand-computed cases ------------------------------------------------------------


def test_nll_is_the_mean_negative_log_probability_of_the_true_class():
    proba = [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]
    assert negative_log_likelihood(proba, [0, 1, 1]) == pytest.approx(
        -(math.log(0.5) + math.log(0.1) + math.log(0.8)) / 3, rel=1e-15
    )
    # one sigmoid column is the probability of class 1
    assert negative_log_likelihood([[0.8], [0.3]], [1, 0]) == pytest.approx(
        -(math.log(0.8) + math.log(0.7)) / 2
    )
    assert negative_log_likelihood([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-12))  # floored, finite


def test_ece_weights_each_bins_accuracy_confidence_gap_by_its_share():
    # bin (0.8667, 0.9333]: confidences 0.9, 0.9, one right -> |0.5 - 0.9| * 2/4
    # bin (0.5333, 0.6]:    confidences 0.6, 0.6, both right -> |1.0 - 0.6| * 2/4
    proba = [[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]]
    assert expected_calibration_error(proba, [0, 1, 1, 0]) == pytest.approx(0.2 + 0.2, abs=1e-15)
    assert expected_calibration_error([[0.3, 0.7]] * 10, [1] * 7 + [0] * 3) == pytest.approx(0.0, abs=1e-15)


def test_ece_puts_a_confidence_on_a_bin_edge_into_the_lower_bin():
    # 4 bins, edges 0, .25, .5, .75, 1: confidence 0.5 (right) is bin (.25, .5], 0.6 (wrong) bin (.5, .75]
    # apart: |1 - .5|/2 + |0 - .6|/2 = 0.55; wrongly together: |.5 - .55| = 0.05
    proba = [[0.5, 0.5], [0.6, 0.4]]
    assert expected_calibration_error(proba, [0, 1], n_bins=4) == pytest.approx(0.55, abs=1e-15)


def test_ece_matches_the_reference_loop_with_15_bins():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 500)
    conf, pred = proba.max(1), proba.argmax(1)
    edges = np.linspace(0, 1, 16)
    expected = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):  # Guo et al.'s loop: lo < c <= hi
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            expected += inside.mean() * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    assert expected_calibration_error(proba, y) == pytest.approx(expected, abs=1e-12)
    metrics = probability_metrics(proba, y)
    assert metrics["accuracy"] == pytest.approx((pred == y).mean())
    assert set(metrics) == {"accuracy", "nll", "ece"}


@pytest.mark.parametrize(
    "proba, y, match",
    [
        ([[0.5, 0.5]], [2], "y must hold class indices in 0..1"),
        ([[1.5, -0.5]], [0], "proba must hold finite probabilities"),
        ([[np.nan, 0.5]], [0], "proba must hold finite"),
        ([[0.5, 0.5]], [0, 1], "one label per row"),
        ([[0.5, 0.5]], [0.5], "class indices"),
        (np.zeros((0, 2)), [], "non-empty"),
    ],
)
def test_metrics_refuse_bad_input_naming_it(proba, y, match):
    with pytest.raises(ValueError, match=match):
        probability_metrics(proba, y)


def test_ece_refuses_a_bad_bin_count():
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([[0.5, 0.5]], [0], n_bins=0)


# --- the Ensemble: averaging, files ---------------------------------------------------------


def _nets(output="softmax", n_out=3, k=3):
    return [MLP([4, 5, n_out], output=output, dtype="float64", seed=s, dropout=0.0) for s in range(k)]


def test_predict_proba_is_the_members_mean_and_predict_its_class():
    X = np.random.default_rng(1).normal(size=(40, 4))
    nets = _nets()
    ens = Ensemble(nets)
    mean = np.mean([net.predict_proba(X) for net in nets], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), mean, rtol=1e-15)
    np.testing.assert_array_equal(ens.predict(X), mean.argmax(axis=1))
    assert not np.array_equal(ens.predict_proba(X), nets[0].predict_proba(X))  # it is not a member
    one = Ensemble(nets[:1])
    np.testing.assert_array_equal(one.predict_proba(X), nets[0].predict_proba(X))


def test_regression_and_sigmoid_ensembles_average_outputs():
    X = np.random.default_rng(2).normal(size=(30, 4))
    nets = _nets("identity", 2)
    np.testing.assert_allclose(
        Ensemble(nets).predict(X), np.mean([n.predict_proba(X) for n in nets], 0), rtol=1e-15
    )
    nets = _nets("sigmoid", 1)
    mean = np.mean([n.predict_proba(X) for n in nets], 0)
    np.testing.assert_array_equal(Ensemble(nets).predict(X), (mean[:, 0] >= 0.5).astype(np.int64))


def test_members_must_agree_and_be_networks():
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(TypeError, match="members\\[1\\]"):
        Ensemble([_nets()[0], "net"])
    with pytest.raises(ValueError, match="members\\[1\\] maps 4 features to 2"):
        Ensemble([_nets()[0], _nets("softmax", 2)[0]])
    with pytest.raises(TypeError, match="sequence"):
        Ensemble(_nets()[0])


def test_save_load_round_trip_keeps_members_preprocessing_and_run_config(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 2.0, size=(20, 4))
    pre = Preprocessor(X.mean(0), X.std(0), classes=["a", "b", "c"], feature_names=list("wxyz"))
    ens = Ensemble(_nets(), preprocessor=pre, run_config=RunConfig(seed=7))
    path = tmp_path / "ens.npz"
    ens.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens.npz"]  # no temporary left behind
    with np.load(path, allow_pickle=False) as f:  # plain arrays and JSON, no pickle
        assert "member2/dense1.weight" in f.files
    back = load_ensemble(path)
    assert back.n_members == 3 and back.run_config["seed"] == 7
    np.testing.assert_array_equal(back.predict_proba(X), ens.predict_proba(X))
    assert set(back.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_array_equal(back.predict(X), ens.predict(X))
    assert isinstance(load_model(path), Ensemble)
    with pytest.raises(ValueError, match="not an xpnet.MLP"):
        load(path)
    single = tmp_path / "one.npz"
    _nets()[0].save(single)
    assert isinstance(load_model(single), MLP)
    with pytest.raises(ValueError, match="not an xpnet.Ensemble"):
        load_ensemble(single)


def test_load_float32_and_a_damaged_header(tmp_path):
    path = tmp_path / "ens.npz"
    Ensemble(_nets()).save(path)
    assert load_ensemble(path, dtype="float32").members[0].dtype == "float32"
    from xpnet.io import atomic_savez, read_npz

    arrays, meta = read_npz(path)
    atomic_savez(tmp_path / "bad.npz", arrays, {**meta, "members": []})
    with pytest.raises(ValueError, match="damaged"):
        load_ensemble(tmp_path / "bad.npz")


# --- training members together ------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", val_size=0.2, seed=0)


def test_member_configs_are_the_run_with_successive_seeds():
    cfgs = member_configs(RunConfig(seed=5, hidden=(7,)), 3)
    assert [c.seed for c in cfgs] == [5, 6, 7] and {c.hidden for c in cfgs} == {(7,)}
    with pytest.raises(ValueError, match="n_members"):
        member_configs(RunConfig(), 0)
    with pytest.raises(TypeError, match="RunConfig"):
        member_configs({"seed": 1}, 2)


def test_each_member_is_its_seed_trained_alone(iris):
    cfg = RunConfig(hidden=(8,), epochs=6, patience=3, dtype="float64", seed=3)
    ens, histories = fit_ensemble(cfg, iris.X_train, iris.y_train, iris.X_val, iris.y_val, n_members=3)
    assert len(histories) == 3
    for i, (member, history) in enumerate(zip(ens.members, histories, strict=True)):
        net, trainer, stopping = cfg.replace(seed=3 + i).build(4, 3)
        alone = trainer.fit(iris.X_train, iris.y_train, (iris.X_val, iris.y_val), 6, stopping)
        np.testing.assert_allclose(history.val_loss, alone.val_loss, rtol=1e-9)
        for key, value in net.state_dict().items():
            np.testing.assert_allclose(member.state_dict()[key], value, rtol=1e-9, atol=1e-12)


# --- xpnet train --ensemble K, xpnet predict ------------------------------------------------


def _json_run(capsys, *args):
    assert main(["train", "--dataset", "iris", "--epochs", "8", "--hidden", "8", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_ensemble_reports_against_its_first_member_the_plain_run(capsys, tmp_path):
    single = _json_run(capsys, "--seed", "2", "--dtype", "float64")
    path = tmp_path / "ens.npz"
    ens = _json_run(capsys, "--seed", "2", "--dtype", "float64", "--ensemble", "3", "--save", str(path))
    assert ens["n_members"] == 3 and ens["seeds"] == [2, 3, 4]
    assert ens["single"]["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=1e-12)
    for key in ("test_accuracy", "test_nll", "test_ece"):
        assert 0.0 <= ens[key] and len(ens["members"][key]) == 3
    csv = tmp_path / "x.npy"
    np.save(csv, np.random.default_rng(0).normal(size=(5, 4)) + 3.0)
    assert main(["predict", str(path), str(csv), "--proba", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and sum(rows[0].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--ensemble", "0"], "--ensemble=0"),
        (["--ensemble", "2", "--checkpoint", "c.npz"], "--checkpoint is not supported"),
    ],
)
def test_train_ensemble_refuses_bad_options(capsys, extra, match):
    assert main(["train", "--dataset", "iris", "--epochs", "2", *extra]) == 2
    assert match in capsys.readouterr().err


# --- the estimators' n_ensemble ------------------------------------------------------------


def test_estimator_n_ensemble_is_a_parameter_and_averages_its_members(iris):
    from sklearn.base import clone

    from xpnet.sklearn import XPNetClassifier, XPNetRegressor

    est = XPNetClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=4, n_ensemble=3)
    assert est.get_params()["n_ensemble"] == 3 and clone(est).n_ensemble == 3
    assert XPNetRegressor().get_params()["n_ensemble"] == 1
    assert est.set_params(n_ensemble=2) is est and est.n_ensemble == 2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(iris.X_train, iris.y_train)
        alone = XPNetClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=5).fit(
            iris.X_train, iris.y_train
        )
    assert len(est.members_) == 2
    np.testing.assert_array_equal(est.members_[1].predict_proba(iris.X_val), alone.predict_proba(iris.X_val))
    mean = np.mean([m.predict_proba(iris.X_val) for m in est.members_], axis=0)
    np.testing.assert_allclose(est.predict_proba(iris.X_val), mean, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(iris.X_val), est.classes_[mean.argmax(axis=1)])
    assert not hasattr(clone(est), "members_")
