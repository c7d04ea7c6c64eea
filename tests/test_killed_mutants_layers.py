"""Tests that kill the mutants of xpnet/layers.py that survived the suites (issue 12, tests/mutation/)."""

from __future__ import annotations

import numpy as np

import xpnet
from xpnet.layers import Dense, Dropout, Pass


def _data(n=6, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), np.eye(k)[rng.integers(0, k, n)]


def test_a_dense_layer_built_without_first_computes_its_input_gradient():
    layer = Dense(0, 4, 3)
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), np.zeros(3)
    ctx = Pass(ops=xpnet.Backend(), params={layer.w: W, layer.b: b}, running={}, training=True)
    dz = rng.standard_normal((5, 3))
    dx, grads = layer.backward(ctx, x, dz)
    assert np.allclose(dx, dz @ W.T, rtol=1e-14)
    assert np.allclose(grads[layer.w], x.T @ dz, rtol=1e-14)


def test_step_buffers_keep_the_input_gradient_of_hidden_dense_layers_only():
    """The first dense layer needs no input gradient; the others write theirs into a kept buffer."""
    net = xpnet.MLP([4, 5, 5, 3], dtype="float64", seed=0, dropout=0.0)
    X, Y = _data()
    net.loss_and_grads(X, Y, "categorical_crossentropy", step_buffers=True)
    kept = net.step_buffers.arrays
    assert "dense1.dx" in kept and "dense2.dx" in kept
    assert "dense0.dx" not in kept
    assert kept["dense0.z"].shape == (6, 5) and kept["dense2.z"].shape == (6, 3)  # (batch, fan_out)
    assert kept["dense1.dx"].shape == (6, 5)
    first = dict(kept)
    net.loss_and_grads(X, Y, "categorical_crossentropy", step_buffers=True)
    assert all(net.step_buffers.arrays[k] is v for k, v in first.items())  # reused, not reallocated


def test_zero_dropout_builds_no_dropout_layers():
    assert not any(isinstance(m, Dropout) for m in xpnet.MLP([4, 5, 3], dropout=0.0).modules)
    assert sum(isinstance(m, Dropout) for m in xpnet.MLP([4, 5, 5, 3], dropout=0.2).modules) == 2
