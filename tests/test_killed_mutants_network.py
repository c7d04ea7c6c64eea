"""Tests that kill the mutants of xpnet/network.py that survived the suites (issue 12, tests/mutation/)."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet


def _data(n=8, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


def test_default_seed_is_0_and_n_hidden_counts_hidden_layers():
    default, seeded = xpnet.MLP([4, 5, 3], dropout=0.0), xpnet.MLP([4, 5, 3], seed=0, dropout=0.0)
    assert default.seed == 0
    assert all(np.array_equal(default.params[k], seeded.params[k]) for k in seeded.params)
    assert xpnet.MLP([4, 5, 3], dropout=0.0).n_hidden == 1
    assert xpnet.MLP([4, 5, 6, 3], dropout=0.0).n_hidden == 2


def test_gradients_returned_without_step_buffers_are_not_overwritten_by_the_next_call():
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    X, y = _data()
    _, first = net.value_and_grad(X, y)
    kept = {k: np.array(v, copy=True) for k, v in first.items()}
    net.value_and_grad(X[:4] * 3.0, y[:4])
    Xd, Yd = net.as_input(X), net.as_targets(y, len(y), "categorical_crossentropy")
    _, third, _ = net.loss_and_grads(Xd * 2.0, Yd, "categorical_crossentropy")
    assert all(np.array_equal(first[k], kept[k]) for k in kept)
    assert not any(np.shares_memory(third[k], first[k]) for k in kept)
    assert net.step_buffers.arrays == {}  # only the trainer's fast path (step_buffers=True) keeps arrays


def test_state_dict_from_another_backend_loads():
    strict = xpnet.MLP(
        [4, 5, 3], dtype="float64", seed=1, backend="array_api_strict", device="device1", dropout=0.0
    )
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    net.load_state_dict(strict.state_dict())
    assert all(np.array_equal(net.params[k], strict.backend.to_numpy(strict.params[k])) for k in net.params)


def test_update_batch_stats_without_statistics_changes_nothing():
    net = xpnet.MLP([4, 5, 3], batch_norm=True, dtype="float64", seed=0, dropout=0.0)
    before = {k: np.array(v, copy=True) for k, v in net.buffers.items()}
    net.update_batch_stats({})
    assert all(np.array_equal(net.buffers[k], before[k]) for k in before)


def test_eval_outputs_of_an_identity_output_are_the_logits():
    net = xpnet.MLP([4, 5, 2], output="identity", dtype="float64", seed=0, dropout=0.0)
    X, _ = _data()
    z, out = net.eval_logits_outputs(net.as_input(X))
    assert out is not None and np.array_equal(out, z)


def test_predict_thresholds_a_single_sigmoid_unit_at_one_half():
    net = xpnet.MLP([4, 5, 1], output="sigmoid", dtype="float64", seed=3, dropout=0.0)
    X = np.random.default_rng(4).standard_normal((200, 4)) * 3.0
    proba = net.predict_proba(X)[:, 0]
    assert 0.05 < np.mean(proba >= 0.5) < 0.95  # both classes occur
    assert np.array_equal(net.predict(X), (proba >= 0.5).astype("int64"))


def test_save_without_and_with_a_run_config_and_load_with_a_dtype(tmp_path):
    net = xpnet.MLP([4, 5, 3], dtype="float32", seed=0, dropout=0.0)
    net.save(tmp_path / "plain.npz")
    plain = xpnet.load(tmp_path / "plain.npz")
    assert plain.run_config is None and plain.dtype == "float32"
    net.save(tmp_path / "run.npz", run_config=xpnet.RunConfig(epochs=3))
    loaded = xpnet.load(tmp_path / "run.npz", dtype="float64")
    assert loaded.run_config["epochs"] == 3
    assert loaded.dtype == "float64" and loaded.params["dense0.weight"].dtype == np.float64


def test_summary_names_the_output_activation_on_the_last_row_only():
    rows = xpnet.MLP([4, 5, 6, 3], activation="tanh", output="softmax", dropout=0.0).summary().splitlines()
    dense_rows = [r for r in rows if "params" in r and "dense" in r]
    assert len(dense_rows) == 3
    assert dense_rows[-1].split("params")[0].rstrip().rsplit(None, 1)[0].endswith("-> softmax")
    assert not any("softmax" in r for r in dense_rows[:-1])


def test_loaded_parameters_do_not_alias_the_source_arrays():
    source = xpnet.MLP([4, 5, 3], dtype="float64", seed=1, dropout=0.0).state_dict()
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    net.load_state_dict(source)
    source["dense0.weight"][...] = 7.0
    assert not np.any(net.params["dense0.weight"] == 7.0)


def test_dropout_masks_come_from_the_documented_key_seed_and_stream_1():
    for seed, key in ((5, 5), (None, 0)):
        net = xpnet.MLP([4, 5, 3], dropout=0.5, seed=seed)
        expected = net.backend.rng(key, stream=1).words(8).tolist()
        assert net.rng.words(8).tolist() == expected


def test_predict_of_an_identity_output_returns_the_outputs():
    net = xpnet.MLP([4, 5, 2], output="identity", dtype="float64", seed=0, dropout=0.0)
    X, _ = _data()
    assert np.array_equal(net.predict(X), net.predict_proba(X))


def test_from_torch_keeps_the_module_dtype_unless_told():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    assert xpnet.from_torch(module).dtype == "float32"
    net = xpnet.from_torch(module, dtype="float64")
    assert net.dtype == "float64" and net.params["dense0.weight"].dtype == np.float64
