"""Gradient clipping by value, per-tensor norm and global norm."""

from __future__ import annotations

import numpy as np
import pytest


def _grads(backend):
    return {
        "a": backend.asarray(np.array([[3.0, -4.0], [0.5, 0.0]]), "float64"),
        "b": backend.asarray(np.array([12.0, 0.0]), "float64"),
    }


def test_value(backend):
    out = backend.clip(_grads(backend), "value", 1.0)
    assert np.array_equal(backend.to_numpy(out["a"]), [[1.0, -1.0], [0.5, 0.0]])
    assert np.array_equal(backend.to_numpy(out["b"]), [1.0, 0.0])


def test_per_tensor_norm(backend):
    out = backend.clip(_grads(backend), "norm", 5.0)
    a = backend.to_numpy(out["a"])
    b = backend.to_numpy(out["b"])
    norm_a = np.sqrt(25.25)
    np.testing.assert_allclose(a, np.array([[3.0, -4.0], [0.5, 0.0]]) * 5.0 / (norm_a + 1e-6))
    np.testing.assert_allclose(b, [5.0 * 12.0 / (12.0 + 1e-6), 0.0])
    small = backend.clip(_grads(backend), "norm", 100.0)  # below threshold: unchanged
    assert np.array_equal(backend.to_numpy(small["b"]), [12.0, 0.0])


def test_global_norm(backend):
    grads = _grads(backend)
    total = np.sqrt(25.25 + 144.0)
    assert backend.item(backend.global_norm(grads.values())) == pytest.approx(total)
    out = backend.clip(grads, "global_norm", 1.0)
    joint = np.sqrt(sum((backend.to_numpy(g) ** 2).sum() for g in out.values()))
    assert joint == pytest.approx(total / (total + 1e-6))
    np.testing.assert_allclose(backend.to_numpy(out["b"]), [12.0 / (total + 1e-6), 0.0])
