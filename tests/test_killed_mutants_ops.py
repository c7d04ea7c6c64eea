"""Tests that kill the mutants of xpnet/ops.py that survived the fast suites (issue 12, tests/mutation/).

The reference ops (``xpnet.Backend()``: NumPy running :class:`xpnet.ops.Ops` unchanged) against
independent oracles that need no torch: the formulas of torch's documentation written out in
NumPy, and central finite differences for the backward passes.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.losses import VALID_OUTPUTS
from xpnet.ops import Buffers

REF = xpnet.Backend()
PAIRS = [(loss, out) for loss, outs in VALID_OUTPUTS.items() for out in outs]


def _runtime(name: str) -> str:
    """``name`` as a fresh, non-interned string (what parsing a command line or a file gives)."""
    return "".join(list(name))


def _rng(seed=0):
    return np.random.default_rng(seed)


def _fd(f, x, eps=1e-6):
    """Central finite differences of the scalar ``f`` at ``x``."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (f(hi) - f(lo)) / (2 * eps)
    return g


BN = {
    "z": _rng(1).standard_normal((5, 3)) * 2.0 + 0.5,
    "gamma": np.array([0.5, 1.5, -2.0]),
    "beta": np.array([0.1, -0.3, 0.7]),
    "mean": np.array([0.2, -0.1, 0.4]),
    "var": np.array([1.5, 0.7, 2.5]),
    "R": _rng(2).standard_normal((5, 3)),  # weights of the scalar L = sum(R * out)
}


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_forward_equals_batchnorm1d_formula(training):
    z, g, b = BN["z"], BN["gamma"], BN["beta"]
    out, _, stats = REF.batch_norm(z, g, b, BN["mean"], BN["var"], training)
    if training:
        mean, var = z.mean(axis=0), z.var(axis=0)
        assert np.allclose(stats[0], mean, rtol=1e-14)
        assert np.allclose(stats[1], z.var(axis=0, ddof=1), rtol=1e-14)  # the unbiased one is kept
    else:
        mean, var = BN["mean"], BN["var"]
        assert stats is None
    assert np.allclose(out, g * (z - mean) / np.sqrt(var + 1e-5) + b, rtol=1e-13, atol=1e-14)


def test_batch_norm_of_a_single_row_keeps_the_biased_variance():
    z = np.array([[1.0, 2.0]])
    _, _, (mean, var) = REF.batch_norm(z, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), True)
    assert np.array_equal(mean, [1.0, 2.0]) and np.array_equal(var, [0.0, 0.0])


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_backward_equals_finite_differences(training):
    z, g, b, R = BN["z"], BN["gamma"], BN["beta"], BN["R"]

    def loss(z_, g_=g, b_=b):
        return float(np.sum(R * REF.batch_norm(z_, g_, b_, BN["mean"], BN["var"], training)[0]))

    _, saved, _ = REF.batch_norm(z, g, b, BN["mean"], BN["var"], training)
    dz, dgamma, dbeta = REF.batch_norm_backward(saved, g, R, training)
    assert np.allclose(dz, _fd(loss, z), rtol=1e-6, atol=1e-8)
    assert np.allclose(dgamma, _fd(lambda g_: loss(z, g_=g_), g), rtol=1e-6, atol=1e-8)
    assert np.allclose(dbeta, _fd(lambda b_: loss(z, b_=b_), b), rtol=1e-6, atol=1e-8)


def test_batch_norm_update_is_torchs_running_average():
    mean, var = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    rm, rv = REF.batch_norm_update(np.array([0.5, -0.5]), np.array([1.0, 2.0]), (mean, var))
    assert np.allclose(rm, 0.9 * np.array([0.5, -0.5]) + 0.1 * mean, rtol=1e-15)
    assert np.allclose(rv, 0.9 * np.array([1.0, 2.0]) + 0.1 * var, rtol=1e-15)


def _loss_oracle(loss, output, z, y):
    """The loss from torch's documented formulas (mean over every element, or over rows for CCE)."""
    if output == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        a = e / e.sum(axis=1, keepdims=True)
    elif output == "sigmoid":
        a = 1.0 / (1.0 + np.exp(-z))
    else:
        a = z
    if loss == "mse":
        return np.mean((a - y) ** 2)
    if loss == "log_loss":
        return -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    return -np.sum(y * np.log(a)) / z.shape[0]


@pytest.mark.parametrize("loss, output", PAIRS)
def test_output_loss_value_and_gradient_for_names_read_at_run_time(loss, output):
    rng = _rng(3)
    z = rng.standard_normal((4, 3))
    y = rng.random((4, 3))
    y = y / y.sum(axis=1, keepdims=True) if loss == "categorical_crossentropy" else (y > 0.5) * 1.0
    a, value, dz = REF.output_loss(_runtime(loss), _runtime(output), z, y)
    assert float(value) == pytest.approx(_loss_oracle(loss, output, z, y), rel=1e-12)
    assert np.allclose(dz, _fd(lambda z_: _loss_oracle(loss, output, z_, y), z), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss, output", PAIRS)
def test_loss_value_and_loss_grad_called_apart_agree_with_the_oracle(loss, output):
    rng = _rng(5)
    z = rng.standard_normal((4, 3))
    y = rng.random((4, 3))
    y = y / y.sum(axis=1, keepdims=True) if loss == "categorical_crossentropy" else (y > 0.5) * 1.0
    a, _ = REF.activation(output, z)
    assert float(REF.loss_value(loss, output, z, a, y)) == pytest.approx(
        _loss_oracle(loss, output, z, y), rel=1e-12
    )
    dz = REF.loss_grad(loss, output, z, a, y)
    assert np.allclose(dz, _fd(lambda z_: _loss_oracle(loss, output, z_, y), z), rtol=1e-6, atol=1e-9)


def test_clip_refuses_an_unknown_kind():
    grads = {"w": np.array([3.0, 4.0])}
    for kind in ("unit", "zzz"):  # names that sort after "norm" and "global_norm"
        with pytest.raises(ValueError, match="clip kind"):
            REF.clip(grads, kind, 1.0)


def test_buffers_are_enabled_by_default_and_follow_a_smaller_shape():
    buffers = Buffers(np, None)
    big = buffers("a", (3, 4), np.float64)
    assert big.shape == (3, 4) and buffers("a", (3, 4), np.float64) is big
    assert buffers("a", (3, 3), np.float64).shape == (3, 3)  # smaller: reallocated too
    assert buffers("a", (2, 4), np.float64).shape == (2, 4)
    assert buffers("a", (2, 4), np.float32).dtype == np.float32


def _torch_sgd(p, grads, lr, momentum, dampening, nesterov, weight_decay):
    """torch.optim.SGD's documented algorithm, in NumPy."""
    p, buf = p.copy(), None
    for g in grads:
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


@pytest.mark.parametrize(
    "momentum, dampening, nesterov, weight_decay",
    [(0.0, 0.0, False, 0.1), (0.9, 0.3, False, 0.1), (0.8, 0.0, True, 0.05), (0.9, 0.0, False, 0.0)],
)
def test_sgd_update_follows_torchs_algorithm(momentum, dampening, nesterov, weight_decay):
    rng = _rng(6)
    p0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(4)]
    p, state = p0.copy(), {}
    for g in grads:
        REF.sgd_update(p, g, state, 0.1, momentum, dampening, nesterov, weight_decay)
    expected = _torch_sgd(p0, grads, 0.1, momentum, dampening, nesterov, weight_decay)
    assert np.allclose(p, expected, rtol=1e-13, atol=1e-15)


def _torch_rmsprop(p, grads, lr, alpha, eps, weight_decay, momentum, centered):
    """torch.optim.RMSprop's documented algorithm, in NumPy."""
    p = p.copy()
    sq, buf, ga = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        if weight_decay:
            g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        avg = sq
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            avg = sq - ga * ga
        avg = np.sqrt(avg) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


@pytest.mark.parametrize(
    "momentum, centered, weight_decay",
    [(0.0, False, 0.0), (0.5, False, 0.1), (0.0, True, 0.0), (0.7, True, 0.0)],
)
def test_rmsprop_update_follows_torchs_algorithm(momentum, centered, weight_decay):
    rng = _rng(4)
    p0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(4)]
    p, state = p0.copy(), {}
    for g in grads:
        REF.rmsprop_update(p, g, state, 0.01, 0.9, 1e-8, weight_decay, momentum, centered)
    expected = _torch_rmsprop(p0, grads, 0.01, 0.9, 1e-8, weight_decay, momentum, centered)
    assert np.allclose(p, expected, rtol=1e-13, atol=1e-15)


HIDDEN_FORMULAS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),  # torch's default negative_slope
}


@pytest.mark.parametrize("name", sorted(HIDDEN_FORMULAS))
def test_activations_equal_their_formula_and_finite_differences(name):
    z = np.array([[-3.0, -0.7, -0.2, 0.3, 0.6, 2.5], [1.5, -1.5, 0.05, -0.05, 4.0, -4.0]])
    R = _rng(7).standard_normal(z.shape)
    a, saved = REF.activation(name, z.copy())
    assert np.allclose(a, HIDDEN_FORMULAS[name](z), rtol=1e-14, atol=1e-300)
    dz = REF.activation_backward(name, saved, R.copy())
    assert np.allclose(dz, _fd(lambda z_: float(np.sum(R * HIDDEN_FORMULAS[name](z_))), z), rtol=1e-7)


def test_relu_and_leaky_relu_gradients_at_exactly_zero_are_torchs():
    z, da = np.array([[0.0, -2.0, 3.0]]), np.ones((1, 3))
    _, saved = REF.activation("leaky_relu", z)
    assert np.array_equal(REF.activation_backward("leaky_relu", saved, da), [[0.01, 0.01, 1.0]])
    _, saved = REF.activation("relu", z)
    assert np.array_equal(REF.activation_backward("relu", saved, da), [[0.0, 0.0, 1.0]])


def test_log_loss_on_softmax_clamps_log_terms_at_minus_100_as_bceloss():
    z, y = np.array([[0.0, -300.0, 5.0]]), np.array([[0.0, 1.0, 1.0]])
    _, value, _ = REF.output_loss("log_loss", "softmax", z, y)
    assert float(value) == pytest.approx(33.337810232326085, rel=1e-12)  # torch's binary_cross_entropy


def _torch_adam(p, grads, lr, betas, eps, weight_decay, decoupled, amsgrad):
    """torch.optim.Adam / AdamW's documented algorithm, in NumPy."""
    (b1, b2), p = betas, p.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if weight_decay and decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
    return p


@pytest.mark.parametrize(
    "weight_decay, decoupled, amsgrad", [(0.1, False, False), (0.1, True, True), (0.0, False, True)]
)
def test_adam_update_follows_torchs_algorithm(weight_decay, decoupled, amsgrad):
    rng = _rng(8)
    p0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(4)]
    p, state = p0.copy(), {}
    for t, g in enumerate(grads, start=1):
        REF.adam_update(p, g, state, 0.01, t, (0.9, 0.99), 1e-8, weight_decay, decoupled, amsgrad)
    expected = _torch_adam(p0, grads, 0.01, (0.9, 0.99), 1e-8, weight_decay, decoupled, amsgrad)
    assert np.allclose(p, expected, rtol=1e-12, atol=1e-15)


def test_rmsprop_defaults_to_no_momentum_and_no_weight_decay():
    rng = _rng(9)
    p0, grads = rng.standard_normal((3, 2)), [rng.standard_normal((3, 2)) for _ in range(3)]
    p, state = p0.copy(), {}
    for g in grads:  # several steps: a momentum buffer would show from the second on
        REF.rmsprop_update(p, g, state, 0.01, 0.9, 1e-8)
    assert np.allclose(p, _torch_rmsprop(p0, grads, 0.01, 0.9, 1e-8, 0.0, 0.0, False), rtol=1e-13)


def test_reference_dropout_keeps_a_fraction_1_minus_p_scaled_by_its_inverse():
    a = np.ones((400, 500))
    out, mask = REF.dropout(a, 0.2, rng=REF.rng(0, stream=1))
    assert np.mean(mask > 0) == pytest.approx(0.8, abs=0.01)
    assert set(np.unique(mask)) == {0.0, 1.25}


def test_log_loss_on_a_saturated_softmax_has_a_finite_gradient():
    z, y = np.array([[0.0, 800.0, 0.0]]), np.array([[0.0, 1.0, 1.0]])
    _, value, dz = REF.output_loss("log_loss", "softmax", z, y)
    assert np.isfinite(float(value)) and np.all(np.isfinite(dz))
