"""One seed, one run, on every backend (issue 17).

A 50-epoch float64 run with shuffling, dropout and batch norm draws the same batch orders and
dropout masks, bit for bit, on every backend present (the counter-based generator of
:mod:`xpnet.random`), so its loss curve equals NumPy's to rounding (1e-9 relative on the CPU)
and its predictions match. A run checkpointed midway and resumed ends bit-identical on each.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.backend import Backend

EPOCHS = 50


def _data():
    rng = np.random.default_rng(17)
    centers = rng.standard_normal((4, 8)) * 1.5
    y = rng.integers(0, 4, 150)
    return centers[y] + rng.standard_normal((150, 8)), y


def _run(backend, epochs=EPOCHS, **fit):
    """Train, recording every batch order and every dropout keep mask as host copies."""
    X, y = _data()
    net = xpnet.MLP([8, 32, 16, 4], backend=backend, dtype="float64", dropout=0.2, batch_norm=True, seed=3)
    opt = xpnet.optim.Adam(lr=0.01)
    trainer = xpnet.Trainer(net, optimizer=opt, batch_size=32, shuffle=True, seed=5)
    drawn = {"orders": [], "masks": []}
    to_host = net.backend.to_numpy

    def record(kind, draw):
        def wrapped(*args, **kwargs):
            value = draw(*args, **kwargs)
            drawn[kind].append(np.array(to_host(value), copy=True))  # before dropout scales it in place
            return value

        return wrapped

    trainer.rng.permutation = record("orders", trainer.rng.permutation)
    net.rng.bernoulli = record("masks", net.rng.bernoulli)
    history = trainer.fit(X[:120], y[:120], validation_data=(X[120:], y[120:]), epochs=epochs, **fit)
    return net, trainer, history, drawn


@pytest.fixture(scope="module")
def reference():
    return _run(xpnet.get_backend("numpy"))


def _same_draws(drawn, ref):
    for kind in ("orders", "masks"):
        assert len(drawn[kind]) == len(ref[kind]) > 0, kind
        for i, (ours, theirs) in enumerate(zip(drawn[kind], ref[kind], strict=True)):
            assert ours.dtype.kind == theirs.dtype.kind and np.array_equal(ours, theirs), f"{kind}[{i}]"


def test_same_seed_same_run_on_every_backend(backend, reference, check, tol):
    net, _, history, drawn = _run(backend)
    ref_net, _, ref_history, ref_drawn = reference
    assert (
        len(ref_drawn["orders"]) == EPOCHS and len(ref_drawn["masks"]) == EPOCHS * 4 * 2
    )  # 2 dropout layers
    _same_draws(drawn, ref_drawn)
    rtol, atol = tol(backend, "float64", "train")
    assert rtol <= 1e-8
    name = f"{backend.name}:{backend.device} 50-epoch"
    check(f"{name} train loss", np.array(history.train_loss), np.array(ref_history.train_loss), rtol, 0.0)
    check(f"{name} val loss", np.array(history.val_loss), np.array(ref_history.val_loss), rtol, 0.0)
    X, _ = _data()
    check(f"{name} predict_proba", net.predict_proba(X), ref_net.predict_proba(X), rtol, atol)
    np.testing.assert_array_equal(net.predict(X), ref_net.predict(X))
    assert ref_history.train_loss[-1] < 0.5 * ref_history.train_loss[0]  # it really trained


def test_reference_ops_draw_the_numpy_backends_bits(reference):
    """``Backend()`` (the plain-xp reference, portable Philox) against NumPy's C Philox fast path."""
    _, _, history, drawn = _run(Backend())
    _same_draws(drawn, reference[3])
    np.testing.assert_allclose(history.train_loss, reference[2].train_loss, rtol=1e-12, atol=0)


def test_resume_is_bit_identical_on_every_backend(backend, tmp_path):
    full_net, _, full, full_drawn = _run(backend, epochs=12)
    path = tmp_path / "run.npz"
    _run(backend, epochs=7, checkpoint=path)
    net, trainer, resumed, drawn = _run(backend, epochs=12, resume_from=path)
    assert trainer.rng.get_state() == {
        "generator": "philox4x64-10",
        "key": [5, 0],
        "counter": trainer.rng.counter,
    }
    assert resumed.train_loss == full.train_loss and resumed.val_loss == full.val_loss
    for kind in ("orders", "masks"):  # the resumed run drew exactly the uninterrupted run's tail
        tail = full_drawn[kind][len(full_drawn[kind]) - len(drawn[kind]) :]
        assert len(drawn[kind]) > 0 and all(
            np.array_equal(a, b) for a, b in zip(drawn[kind], tail, strict=True)
        )
    ours, ref = net.state_dict(), full_net.state_dict()
    for key in ref:
        assert np.array_equal(backend.to_numpy(ours[key]), backend.to_numpy(ref[key])), key
