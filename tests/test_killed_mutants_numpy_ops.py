"""Tests that kill the mutants of xpnet/numpy_ops.py that survived the suites (issue 12, tests/mutation/).

backends/test_ops.py checks that the NumPy overrides compute what the reference computes; these
check the rest of their contract: handed fitting buffers they write into them (no fresh
temporaries, the point of the overrides), without ``inplace=True`` they leave their arguments
alone, and they agree with the reference on stacked ``(K, batch, features)`` arrays and on
unusual hyperparameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.numpy_ops import NumpyOps

REF = xpnet.Backend()
NP = xpnet.get_backend("numpy")
assert isinstance(NP, NumpyOps)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_dense_and_its_backward_write_into_fitting_buffers():
    x, W, b, dz = _rand(6, 4, seed=1), _rand(4, 3, seed=2), _rand(3, seed=3), _rand(6, 3, seed=4)
    out = np.empty((6, 3))
    z = NP.dense(x, W, b, out=out)
    assert z is out and np.allclose(z, x @ W + b, rtol=1e-14)
    bufs = (np.empty((6, 4)), np.empty((4, 3)), np.empty(3))
    dx, dW, db = NP.dense_backward(x, W, dz, out=bufs)
    assert dx is bufs[0] and dW is bufs[1] and db is bufs[2]
    assert np.allclose(dx, dz @ W.T, rtol=1e-14) and np.allclose(dW, x.T @ dz, rtol=1e-14)
    assert NP.dense_backward(x, W, dz, need_dx=False, out=bufs)[0] is None


def test_a_buffer_of_another_shape_or_dtype_is_not_used():
    x, W, b = _rand(6, 4, seed=1), _rand(4, 3, seed=2), _rand(3, seed=3)
    for wrong in (np.empty((3, 6)), np.empty((7, 3)), np.empty((6, 3), dtype=np.float32)):
        z = NP.dense(x, W, b, out=wrong)
        assert z is not wrong and z.shape == (6, 3) and np.allclose(z, x @ W + b, rtol=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activations_leave_their_arguments_alone_unless_inplace(name):
    z, da = _rand(5, 3, seed=5), _rand(5, 3, seed=6)
    z0, da0 = z.copy(), da.copy()
    a, saved = getattr(NP, f"{name}_forward")(z)
    dz = getattr(NP, f"{name}_backward")(saved, da)
    assert np.array_equal(z, z0) and np.array_equal(da, da0)
    ref_a, ref_saved = getattr(REF, f"{name}_forward")(z0)
    assert np.allclose(a, ref_a, rtol=1e-14)
    assert np.allclose(dz, getattr(REF, f"{name}_backward")(ref_saved, da0), rtol=1e-14)
    assert getattr(NP, f"{name}_backward")(saved, da, inplace=True) is da  # the hint is taken


def test_softmax_cross_entropy_on_stacked_models_equals_the_reference():
    z = _rand(3, 5, 4, seed=7) * 3.0
    y = np.eye(4)[np.random.default_rng(8).integers(0, 4, (3, 5))]
    a, value, dz = NP.output_loss("categorical_crossentropy", "softmax", z.copy(), y, stacked=True)
    ra, rvalue, rdz = REF.output_loss("categorical_crossentropy", "softmax", z, y, stacked=True)
    assert value.shape == (3,)
    assert np.allclose(a, ra, rtol=1e-13) and np.allclose(value, rvalue, rtol=1e-13)
    assert np.allclose(dz, rdz, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("betas", [(0.9, 0.3), (0.2, 0.45)])
def test_adam_with_small_betas_equals_the_reference(betas):
    p0, grads = _rand(4, 3, seed=9), [_rand(4, 3, seed=10 + i) for i in range(3)]
    mine, ref, s_mine, s_ref = p0.copy(), p0.copy(), {}, {}
    for step, g in enumerate(grads, start=1):
        NP.adam_update(mine, g, s_mine, 0.01, step, betas, 1e-8)
        REF.adam_update(ref, g, s_ref, 0.01, step, betas, 1e-8)
    assert np.allclose(mine, ref, rtol=1e-13, atol=1e-16)


def test_dense_on_a_batch_of_batches_writes_into_fitting_buffers():
    """x ``(K, n, d)`` against shared ``W``, and the stacked backward ``(K, n, d) x (K, d, f)``."""
    x, W, b = _rand(2, 6, 4, seed=1), _rand(4, 3, seed=2), _rand(3, seed=3)
    out = np.empty((2, 6, 3))
    assert NP.dense(x, W, b, out=out) is out and np.allclose(out, x @ W + b, rtol=1e-14)
    Ws, dz = _rand(2, 4, 3, seed=4), _rand(2, 6, 3, seed=5)
    out = np.empty((2, 6, 3))  # K stacked weights, one shared bias
    assert NP.dense(x, Ws, b, out=out) is out and np.allclose(out, REF.dense(x, Ws, b), rtol=1e-14)
    bufs = (np.empty((2, 6, 4)), np.empty((2, 4, 3)), np.empty((2, 3)))
    dx, dW, db = NP.dense_backward(x, Ws, dz, out=bufs)
    assert dx is bufs[0] and dW is bufs[1] and db is bufs[2]
    rdx, rdW, rdb = REF.dense_backward(x, Ws, dz)
    assert np.allclose(dx, rdx, rtol=1e-14) and np.allclose(dW, rdW, rtol=1e-14)
    assert np.allclose(db, rdb, rtol=1e-14)


def test_relu_backward_passes_no_gradient_through_a_nan_pre_activation_as_the_reference():
    z, da = np.array([[np.nan, 1.0, -1.0]]), np.array([[5.0, 5.0, 5.0]])
    a, saved = NP.relu_forward(z.copy())
    ref_a, ref_saved = REF.relu_forward(z)
    assert np.array_equal(NP.relu_backward(saved, da), REF.relu_backward(ref_saved, da))


def test_dropout_keeps_a_fraction_1_minus_p():
    a = np.ones((400, 500))
    out, mask = NP.dropout(a, 0.2, rng=NP.rng(0, stream=1))
    assert np.mean(mask > 0) == pytest.approx(0.8, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)


def test_softmax_cross_entropy_on_huge_logits_stays_finite():
    z = np.array([[400.0, 390.0, -5.0], [700.0, 710.0, 0.0]])
    y = np.eye(3)[[0, 1]]
    a, value, dz = NP.output_loss("categorical_crossentropy", "softmax", z.copy(), y)
    ra, rvalue, rdz = REF.output_loss("categorical_crossentropy", "softmax", z, y)
    assert np.isfinite(float(value)) and float(value) == pytest.approx(float(rvalue), rel=1e-12)
    assert np.allclose(a, ra, rtol=1e-12) and np.allclose(dz, rdz, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_with_weight_decay_equals_the_reference_after_the_first_step(decoupled):
    p0, grads = _rand(4, 3, seed=20), [_rand(4, 3, seed=21 + i) for i in range(3)]
    mine, ref, s_mine, s_ref = p0.copy(), p0.copy(), {}, {}
    for step, g in enumerate(grads, start=1):
        NP.adam_update(mine, g, s_mine, 0.01, step, (0.9, 0.999), 1e-8, 0.1, decoupled)
        REF.adam_update(ref, g, s_ref, 0.01, step, (0.9, 0.999), 1e-8, 0.1, decoupled)
    assert np.allclose(mine, ref, rtol=1e-13, atol=1e-16)
