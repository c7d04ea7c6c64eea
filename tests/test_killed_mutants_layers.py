"""Tests that kill the mutants of xpnet/layers.py that survived the suites (issue 12, tests/mutation/)."""

from __future__ import annotations

import numpy as np

import xpnet
from xpnet.layers import BatchNorm, Dense, Dropout, Pass, build_layers
from xpnet.ops import Buffers


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


def test_a_network_without_hidden_layers_keeps_no_input_gradient_buffer():
    net = xpnet.MLP([4, 3], dtype="float64", seed=0, dropout=0.0)
    X, Y = _data()
    net.loss_and_grads(X, Y, "categorical_crossentropy", step_buffers=True)
    assert set(net.step_buffers.arrays) == {"dense0.z", "dense0.dW", "dense0.db"}


def test_build_layers_counts_every_hidden_layer():
    layers = build_layers([4, 5, 5, 5, 3], "relu", 0.0, False)
    assert [m.name for m in layers if isinstance(m, Dense)] == ["dense0", "dense1", "dense2", "dense3"]
    assert [m.first for m in layers if isinstance(m, Dense)] == [True, False, False, False]


def test_stacked_dense_forward_asks_for_a_buffer_of_the_stacked_shape():
    layer = Dense(0, 4, 3, first=True)
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3))
    buffers = Buffers(np, None)  # the reference ops (K stacked models) ignore it; the shape is the layer's
    ctx = Pass(
        ops=xpnet.Backend(), params={layer.w: W, layer.b: b}, running={}, training=True, buffers=buffers
    )
    z, _ = layer.forward(ctx, x)
    assert buffers.arrays["dense0.z"].shape == (2, 5, 3)
    assert np.allclose(z, x @ W + b[:, None, :], rtol=1e-14)


def test_batch_norm_leaves_its_batch_statistics_in_training_only():
    bn = BatchNorm(0, 3)
    params = {bn.w: np.ones(3), bn.b: np.zeros(3)}
    running = {bn.mean: np.zeros(3), bn.var: np.ones(3)}
    z = np.random.default_rng(2).standard_normal((6, 3))
    train = Pass(ops=xpnet.Backend(), params=params, running=running, training=True)
    bn.forward(train, z)
    assert np.allclose(train.batch_stats["bn0"][0], z.mean(axis=0), rtol=1e-14)
    evaluation = Pass(ops=xpnet.Backend(), params=params, running=running, training=False)
    bn.forward(evaluation, z)
    assert evaluation.batch_stats == {}
