"""The backend ops: every override against the plain-``xp`` reference, and the leading model axis.

``xpnet.Backend()`` is NumPy running the reference ops of :class:`xpnet.ops.Ops`; each backend
present runs its own (NumPy: the in-place overrides of ``numpy_ops.py``). Both get the same
inputs, in float64 and float32, with and without the caller's buffers and in-place hints.
The model-axis tests run the reference ops once on K=3 stacked models and compare with a loop
over the models: one implementation serves both.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import xpnet
from xpnet.activations import HIDDEN, OUTPUT
from xpnet.losses import VALID_OUTPUTS
from xpnet.numpy_ops import NumpyOps
from xpnet.ops import Ops

REFERENCE = xpnet.Backend()
DTYPES = ["float64", "float32"]
TOL = {"float64": dict(rtol=1e-13, atol=1e-15), "float32": dict(rtol=2e-6, atol=1e-7)}
PAIRS = [(loss, out) for loss, outs in VALID_OUTPUTS.items() for out in outs]


def _rand(shape, dtype, seed=0, positive=False):
    r = np.random.default_rng(seed)
    x = r.uniform(0.05, 1.0, shape) if positive else 2.0 * r.standard_normal(shape)
    return x.astype(dtype)


def _host(be, x):
    return None if x is None else be.to_numpy(x)


def _close(actual, expected, dtype, what):
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[dtype])


def _targets(loss, output, n, k, dtype):
    r = np.random.default_rng(3)
    if loss == "categorical_crossentropy" or output == "softmax":
        y = r.random((n, k)) ** 2
        return (y / y.sum(axis=1, keepdims=True)).astype(dtype)
    return (r.random((n, k)) < 0.5).astype(dtype)


def test_numpy_overrides_are_the_ops_named_here():
    """Guard: if NumpyOps overrides an op these tests do not cover, this fails and names it."""
    covered = {
        "dense", "dense_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
        "relu_forward", "relu_backward", "dropout", "dropout_backward", "output_loss", "sgd_update",
        "adam_update",
    }  # fmt: skip
    overridden = {
        name
        for name, member in vars(NumpyOps).items()
        if inspect.isfunction(member) and not name.startswith("_") and hasattr(Ops, name)
    }
    assert overridden <= covered, f"untested NumPy overrides: {sorted(overridden - covered)}"


@pytest.mark.parametrize("with_buffers", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward_and_backward_match_reference(backend, dtype, with_buffers):
    x, W, b, dz = (
        _rand((9, 5), dtype, 1),
        _rand((5, 4), dtype, 2),
        _rand((4,), dtype, 3),
        _rand((9, 4), dtype, 4),
    )
    buffers = backend.buffers() if with_buffers else None
    out = None if buffers is None else buffers("z", (9, 4), backend.dtype(dtype))
    put = lambda a: backend.asarray(a, dtype)  # noqa: E731
    z = backend.dense(put(x), put(W), put(b), out=out)
    _close(_host(backend, z), _host(REFERENCE, REFERENCE.dense(x, W, b)), dtype, "dense")
    bufs = None
    if buffers is not None:
        bufs = tuple(
            buffers(k, s, backend.dtype(dtype)) for k, s in (("dx", (9, 5)), ("dW", (5, 4)), ("db", (4,)))
        )
    mine = backend.dense_backward(put(x), put(W), put(dz), need_dx=True, out=bufs)
    ref = REFERENCE.dense_backward(x, W, dz, need_dx=True)
    for name, a, e in zip(("dx", "dW", "db"), mine, ref, strict=True):
        _close(_host(backend, a), e, dtype, f"dense_backward {name}")
    assert backend.dense_backward(put(x), put(W), put(dz), need_dx=False)[0] is None


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(set(HIDDEN) | set(OUTPUT)))
def test_activation_forward_and_backward_match_reference(backend, name, dtype, inplace):
    z, da = _rand((7, 6), dtype, 5), _rand((7, 6), dtype, 6)
    ref_a, ref_saved = REFERENCE.activation(name, z.copy())
    ref_dz = REFERENCE.activation_backward(name, ref_saved, da.copy())
    zd, dad = backend.asarray(z, dtype), backend.asarray(da, dtype)
    a, saved = backend.activation(name, zd, inplace=inplace)
    _close(_host(backend, a), _host(REFERENCE, ref_a), dtype, f"{name} forward")
    dz = backend.activation_backward(name, saved, dad, inplace=inplace)
    _close(_host(backend, dz), _host(REFERENCE, ref_dz), dtype, f"{name} backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_with_a_given_mask_matches_reference_and_leaves_the_mask_alone(backend, dtype):
    a, da = _rand((8, 5), dtype, 7), _rand((8, 5), dtype, 8)
    keep = (np.random.default_rng(9).random((8, 5)) < 0.7).astype(dtype)
    original = keep.copy()
    keep_dev = backend.asarray(keep, dtype)  # on NumPy, the very array the caller holds
    out, mask = backend.dropout(backend.asarray(a, dtype), 0.3, keep=keep_dev)
    ref_out, ref_mask = REFERENCE.dropout(a, 0.3, keep=keep)
    _close(_host(backend, out), ref_out, dtype, "dropout output")
    _close(_host(backend, mask), ref_mask, dtype, "dropout mask")
    np.testing.assert_array_equal(
        _host(backend, keep_dev), original
    )  # the caller's mask is not scaled in place
    expected = REFERENCE.dropout_backward(ref_mask, da)
    back = backend.dropout_backward(mask, backend.asarray(da.copy(), dtype), inplace=True)
    _close(_host(backend, back), expected, dtype, "dropout backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,output", PAIRS)
def test_output_loss_matches_reference(backend, loss, output, dtype):
    z, y = _rand((10, 4), dtype, 10), _targets(loss, output, 10, 4, dtype)
    a, value, dz = backend.output_loss(loss, output, backend.asarray(z, dtype), backend.asarray(y, dtype))
    ref = REFERENCE.output_loss(loss, output, z, y)
    for what, mine, expected in zip(("output", "loss", "dL/dz"), (a, value, dz), ref, strict=True):
        _close(_host(backend, mine), _host(REFERENCE, expected), dtype, f"{output}+{loss} {what}")


def _run_updates(be, kind, dtype, steps=4):
    p = be.asarray(_rand((6, 3), dtype, 11), dtype)
    state: dict = {}
    for step in range(1, steps + 1):
        g = be.asarray(_rand((6, 3), dtype, 20 + step), dtype)
        if kind == "sgd":
            be.sgd_update(p, g, state, lr=0.1)
        elif kind == "momentum":
            be.sgd_update(p, g, state, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
        elif kind == "adam":
            be.adam_update(p, g, state, lr=0.01, step=step, betas=(0.9, 0.999), eps=1e-8)
        else:
            be.adam_update(p, g, state, 0.01, step, (0.9, 0.99), 1e-8, 0.1, decoupled=True, amsgrad=True)
    return be.to_numpy(p), {k: be.to_numpy(v) for k, v in state.items()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam", "adamw_amsgrad"])
def test_optimizer_updates_match_reference(backend, kind, dtype):
    p, state = _run_updates(backend, kind, dtype)
    ref_p, ref_state = _run_updates(REFERENCE, kind, dtype)
    _close(p, ref_p, dtype, f"{kind} parameter")
    assert state.keys() == ref_state.keys()
    for key in state:
        _close(state[key], ref_state[key], dtype, f"{kind} state {key}")


def test_buffers_are_kept_and_reallocated_on_a_new_shape():
    buffers = xpnet.get_backend("numpy").buffers()
    first = buffers("z", (4, 3), np.dtype("float64"))
    assert buffers("z", (4, 3), np.dtype("float64")) is first
    assert buffers("z", (5, 3), np.dtype("float64")).shape == (5, 3)
    assert REFERENCE.buffers()("z", (4, 3), np.dtype("float64")) is None  # the reference takes none


# --- a leading model axis: K stacked models through the same reference code ---------------

K = 3


def _stack(make):
    return np.stack([make(k) for k in range(K)])


@pytest.mark.parametrize("ops", [REFERENCE, xpnet.get_backend("numpy")], ids=["reference", "numpy"])
def test_stacked_dense_activation_dropout_and_batch_norm_equal_a_loop(ops):
    x, W, b = (
        _stack(lambda k: _rand((6, 5), "float64", k)),
        _stack(lambda k: _rand((5, 4), "float64", 10 + k)),
        _stack(lambda k: _rand((4,), "float64", 20 + k)),
    )
    dz = _stack(lambda k: _rand((6, 4), "float64", 30 + k))
    z = ops.dense(x, W, b)
    grads = ops.dense_backward(x, W, dz)
    for k in range(K):
        np.testing.assert_allclose(z[k], ops.dense(x[k], W[k], b[k]), rtol=1e-14)
        for stacked, single in zip(grads, ops.dense_backward(x[k], W[k], dz[k]), strict=True):
            np.testing.assert_allclose(stacked[k], single, rtol=1e-14, atol=1e-15)
    for name in sorted(set(HIDDEN) | set(OUTPUT)):
        a, saved = ops.activation(name, z)
        back = ops.activation_backward(name, saved, dz)
        for k in range(K):
            a_k, saved_k = ops.activation(name, z[k])
            np.testing.assert_allclose(a[k], a_k, rtol=1e-14, err_msg=name)
            np.testing.assert_allclose(back[k], ops.activation_backward(name, saved_k, dz[k]), rtol=1e-14)
    keep = (np.random.default_rng(1).random(z.shape) < 0.8).astype("float64")
    out, mask = ops.dropout(z, 0.2, keep=keep)
    for k in range(K):
        np.testing.assert_allclose(out[k], ops.dropout(z[k], 0.2, keep=keep[k])[0], rtol=1e-15)
    gamma, beta = (
        _stack(lambda k: _rand((4,), "float64", 40 + k, True)),
        _stack(lambda k: _rand((4,), "float64", 50 + k)),
    )
    rm, rv = (
        _stack(lambda k: _rand((4,), "float64", 60 + k)),
        _stack(lambda k: _rand((4,), "float64", 70 + k, True)),
    )
    for training in (True, False):
        out, saved, stats = ops.batch_norm(z, gamma, beta, rm, rv, training)
        dzb, dg, db = ops.batch_norm_backward(saved, gamma, dz, training)
        for k in range(K):
            o_k, s_k, st_k = ops.batch_norm(z[k], gamma[k], beta[k], rm[k], rv[k], training)
            np.testing.assert_allclose(out[k], o_k, rtol=1e-13)
            for stacked, single in zip(
                (dzb, dg, db), ops.batch_norm_backward(s_k, gamma[k], dz[k], training), strict=True
            ):
                np.testing.assert_allclose(stacked[k], single, rtol=1e-12, atol=1e-14)
            if training:
                for stacked, single in zip(
                    ops.batch_norm_update(rm, rv, stats),
                    ops.batch_norm_update(rm[k], rv[k], st_k),
                    strict=True,
                ):
                    np.testing.assert_allclose(stacked[k], single, rtol=1e-14)


@pytest.mark.parametrize("loss,output", PAIRS)
def test_stacked_output_loss_gives_one_loss_per_model(loss, output):
    ops = REFERENCE
    z = _stack(lambda k: _rand((8, 3), "float64", k))
    y = _stack(lambda k: _targets(loss, output, 8, 3, "float64"))
    a, value, dz = ops.output_loss(loss, output, z, y, stacked=True)
    assert value.shape == (K,)
    for k in range(K):
        a_k, v_k, dz_k = ops.output_loss(loss, output, z[k], y[k])
        np.testing.assert_allclose(value[k], v_k, rtol=1e-13)
        np.testing.assert_allclose(dz[k], dz_k, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(ops.loss_value(loss, output, z, a, y, stacked=True)[k], v_k, rtol=1e-13)


@pytest.mark.parametrize("kind", ["value", "norm", "global_norm"])
def test_stacked_norms_and_clipping_are_per_model(kind):
    ops = REFERENCE
    grads = {
        "w": _stack(lambda k: _rand((5, 4), "float64", k) * (k + 1)),
        "b": _stack(lambda k: _rand((4,), "float64", 9 + k)),
    }
    norms = ops.global_norm(grads.values(), stacked=True)
    clipped = ops.clip(grads, kind, 2.0, stacked=True)
    for k in range(K):
        single = {key: g[k] for key, g in grads.items()}
        np.testing.assert_allclose(norms[k], ops.global_norm(single.values()), rtol=1e-14)
        for key, g in ops.clip(single, kind, 2.0).items():
            np.testing.assert_allclose(clipped[key][k], g, rtol=1e-14, err_msg=f"{kind} {key}")


def test_stacked_optimizer_updates_equal_a_loop():
    ops = REFERENCE
    p = _stack(lambda k: _rand((5, 4), "float64", k))
    singles = [p[k].copy() for k in range(K)]
    state: dict = {}
    states: list[dict] = [{} for _ in range(K)]
    for step in range(1, 4):
        g = np.stack([_rand((5, 4), "float64", 100 * step + k) for k in range(K)])
        ops.adam_update(p, g, state, 0.01, step, (0.9, 0.999), 1e-8, 0.01, decoupled=True)
        for k in range(K):
            ops.adam_update(singles[k], g[k], states[k], 0.01, step, (0.9, 0.999), 1e-8, 0.01, decoupled=True)
    for k in range(K):
        np.testing.assert_allclose(p[k], singles[k], rtol=1e-15)
