"""Saving and loading: round trip, any backend, no pickle, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import xpnet
from xpnet import io


def test_roundtrip_across_backends(tmp_path, backend):
    net = xpnet.MLP([4, 6, 3], activation="tanh", dropout=0.1, batch_norm=True, backend=backend, seed=4)
    X = np.random.default_rng(0).standard_normal((5, 4))
    path = tmp_path / "model.npz"
    net.save(path)
    for target in ("numpy", backend):
        loaded = xpnet.load(path, backend=target)
        assert loaded.config() == net.config()
        np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    with np.load(path, allow_pickle=False) as f:  # readable without pickle
        assert "dense0.weight" in f.files and "bn0.running_var" in f.files


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        xpnet.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not an xpnet file"):
        xpnet.load(tmp_path / "other.npz")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    xpnet.MLP([3, 2], seed=0, dropout=0.0).save(path)
    original = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(io.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        xpnet.MLP([3, 2], seed=1, dropout=0.0).save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_model_file_is_self_contained_on_digits(tmp_path):
    """xpnet.load(path).predict(raw_X) equals the training run's test predictions (issue 16)."""
    from sklearn.preprocessing import StandardScaler

    from xpnet.data import load_dataset

    cfg = xpnet.RunConfig(epochs=3, patience=0)
    ds = load_dataset("digits", val_size=0.1, seed=0)
    net, trainer, stopping = cfg.build(ds.n_features, cfg.n_outputs(ds.n_classes))
    trainer.fit(ds.X_train, ds.y_train, epochs=cfg.epochs, early_stopping=stopping)
    expected = net.predict(ds.X_test)  # the run's own predictions, on the scaled test split
    path = tmp_path / "digits.npz"
    net.save(path, preprocessor=ds.preprocessor, run_config=cfg)
    raw = load_dataset("digits", val_size=0.1, seed=0, scale=False)  # the same split, unscaled
    raw_test = raw.X_test
    scaler = StandardScaler().fit(raw.X_train)  # the split was scaled as scikit-learn would
    np.testing.assert_array_equal(ds.X_test, scaler.transform(raw_test))
    loaded = xpnet.load(path)
    np.testing.assert_array_equal(loaded.predict(raw_test), expected)
    np.testing.assert_array_equal(loaded.predict_proba(raw_test), net.predict_proba(ds.X_test))
    assert loaded.preprocessor.classes == list(range(10))
    assert xpnet.RunConfig.from_dict(loaded.run_config) == cfg
    with np.load(path, allow_pickle=False) as f:
        assert "preprocess/mean" in f.files


def test_labels_feature_names_and_task_round_trip(tmp_path):
    from xpnet.preprocess import Preprocessor

    pre = Preprocessor([1.0, 2.0], [2.0, 4.0], ["no", "yes"], ["a", "b"], "classification")
    net = xpnet.MLP([2, 4, 2], seed=1, dropout=0.0)
    net.save(tmp_path / "m.npz", preprocessor=pre)
    loaded = xpnet.load(tmp_path / "m.npz")
    raw = np.array([[1.0, 2.0], [5.0, -6.0], [0.0, 10.0]])
    np.testing.assert_array_equal(loaded.predict_proba(raw), net.predict_proba((raw - [1, 2]) / [2, 4]))
    idx = net.predict((raw - [1, 2]) / [2, 4])
    np.testing.assert_array_equal(loaded.predict(raw), np.array(["no", "yes"])[idx])
    assert loaded.preprocessor.feature_names == ["a", "b"] and loaded.preprocessor.task == "classification"
    loaded.save(tmp_path / "again.npz")  # a loaded model saves its preprocessing again
    again = xpnet.load(tmp_path / "again.npz").preprocessor
    np.testing.assert_array_equal(again.scale, pre.scale)
    assert again.classes == ["no", "yes"]


def test_legacy_model_loads_with_a_note():
    from pathlib import Path

    legacy = Path(__file__).parent / "fixtures" / "legacy" / "model.npz"
    with pytest.warns(UserWarning, match="carries no preprocessing"):
        net = xpnet.load(legacy)
    assert net.preprocessor is None


def test_model_saved_without_preprocessing_loads_quietly(tmp_path, recwarn):
    xpnet.MLP([3, 2], dropout=0.0).save(tmp_path / "m.npz")
    assert xpnet.load(tmp_path / "m.npz").preprocessor is None
    assert not [w for w in recwarn if "preprocessing" in str(w.message)]
