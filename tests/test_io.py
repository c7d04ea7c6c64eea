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
    xpnet.MLP([3, 2], seed=0).save(path)
    original = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(io.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        xpnet.MLP([3, 2], seed=1).save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
