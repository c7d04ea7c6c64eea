"""Tests that kill mutants which survived every suite (issue 12), each named by the bug it catches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpnet
from xpnet import optim
from xpnet import schedules as S
from xpnet.backend import Backend, get_backend
from xpnet.validation import encode_targets


def _data(n=10, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


def test_cce_targets_whose_rows_do_not_sum_to_1_are_refused_naming_y():
    """The fused ``(a - y)/n`` softmax gradient is right only for rows summing to 1."""
    good = np.array([[0.2, 0.8, 0.0], [1.0, 0.0, 0.0]])
    assert np.array_equal(encode_targets(good, 2, 3, "categorical_crossentropy"), good)
    bad = np.array([[0.2, 0.2, 0.0], [1.0, 0.0, 0.0]])  # in [0, 1], first row sums to 0.4
    with pytest.raises(ValueError, match=r"y rows must sum to 1"):
        encode_targets(bad, 2, 3, "categorical_crossentropy")
    X, _ = _data(n=2)
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=r"\by\b.*sum to 1"):
        xpnet.Trainer(net, optimizer=optim.SGD(lr=0.1), batch_size=None).fit(X, bad, epochs=1)
    after = net.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # refused before any step


def test_plateau_schedule_multiplies_by_gamma():
    """``--schedule plateau --gamma 0.5`` halves the rate after a bad epoch (not the 0.1 default)."""
    opt = optim.SGD(lr=1.0)
    sched = S.make_schedule("plateau", opt, epochs=10, gamma=0.5, patience=0)
    sched.step(1.0)  # first value: the best so far
    sched.step(1.0)  # no improvement, patience 0: reduce
    assert opt.lr == pytest.approx(0.5)
    sched.step(1.0)
    assert opt.lr == pytest.approx(0.25)
    default = optim.SGD(lr=1.0)
    sd = S.make_schedule("plateau", default, epochs=10, patience=0)
    sd.step(1.0)
    sd.step(1.0)
    assert default.lr == pytest.approx(0.1)


@pytest.mark.parametrize("which", ["reference", "numpy"])
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_scales_kept_units_by_1_over_1_minus_p(which, p):
    """Inverted dropout: kept units are scaled by 1/(1-p), dropped ones are 0, backward uses the same mask."""
    ops = Backend() if which == "reference" else get_backend("numpy")
    a = np.arange(1.0, 9.0).reshape(2, 4)
    keep = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    out, mask = ops.dropout(a.copy(), p, keep=keep.copy())
    assert np.allclose(out, a * keep / (1 - p), rtol=0, atol=1e-12)
    da = np.ones_like(a)
    assert np.allclose(ops.dropout_backward(mask, da), keep / (1 - p), rtol=0, atol=1e-12)


def test_dropout_keeps_the_expected_activation_in_training():
    """Over many draws the mean of a dropped-out unit equals the unit (the 1/(1-p) scale)."""
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    a = np.full((200, 500), 2.0)
    out, _ = net.backend.dropout(a.copy(), 0.5, rng=net.rng)
    assert out.mean() == pytest.approx(2.0, rel=0.02)


def test_epoch_loss_weights_a_short_last_batch_by_its_size():
    """10 samples in batches of 4, 4, 2: the epoch loss is the per-sample mean, not the batch mean."""
    X, y = _data(n=10)
    net = xpnet.MLP([4, 5, 3], dropout=0.0, dtype="float64", seed=0)  # no dropout: train = eval loss
    full, _ = net.value_and_grad(X, y, loss="categorical_crossentropy")
    trainer = xpnet.Trainer(net, optimizer=optim.SGD(lr=1e-300), batch_size=4, shuffle=False)
    loss, _ = trainer.train_epoch(net.as_input(X), net.as_targets(y, 10, "categorical_crossentropy"))
    batch_means = [
        float(net.value_and_grad(X[s : s + 4], y[s : s + 4], loss="categorical_crossentropy")[0])
        for s in (0, 4, 8)
    ]
    assert abs(np.mean(batch_means) - float(full)) > 1e-3  # the two weightings really differ here
    assert float(loss) == pytest.approx(float(full), rel=1e-12)


class _PoisonLastEpoch(xpnet.callbacks.Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, history, stopping):
        if history.epoch[-1] == self.epochs:  # parameters go non-finite in the last epoch
            w = trainer.net.params["dense0.weight"]
            w[0, 0] = np.nan


def test_parameters_non_finite_after_the_last_epoch_are_restored_with_a_warning():
    X, y = _data(n=30)
    net = xpnet.MLP([4, 5, 3], dtype="float64", seed=0, dropout=0.0)
    trainer = xpnet.Trainer(net, optimizer=optim.SGD(lr=0.1), batch_size=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(X, y, epochs=3, callbacks=[_PoisonLastEpoch(3)])
    assert any(issubclass(w.category, xpnet.DivergenceWarning) for w in caught)
    assert all(np.all(np.isfinite(v)) for v in net.state_dict().values())


def test_check_clip_accepts_pairs_and_none_and_names_bad_input():
    """Surviving cosmic-ray mutants of xpnet/clipping.py (tests/mutation/): the validation itself."""
    from xpnet.clipping import check_clip

    assert check_clip(None) is None
    assert check_clip(("value", 0.5)) == ("value", 0.5)
    assert check_clip(["global_norm", 2]) == ("global_norm", 2.0)
    for bad in ("value", ("value",), ("value", 1.0, 2.0), 3.0):
        with pytest.raises(TypeError, match="clip must be None or a"):
            check_clip(bad)
    with pytest.raises(ValueError, match="clip kind"):
        check_clip(("max", 1.0))
    with pytest.raises(ValueError, match="clip threshold"):
        check_clip(("norm", 0.0))


def test_check_pairing_refuses_unknown_losses_and_log_losses_on_identity():
    from xpnet.losses import check_pairing

    for loss, output in (
        ("mse", "identity"),
        ("log_loss", "sigmoid"),
        ("categorical_crossentropy", "softmax"),
    ):
        check_pairing(loss, output)
    with pytest.raises(ValueError, match="loss='hinge' is unknown"):
        check_pairing("hinge", "softmax")
    for loss in ("log_loss", "categorical_crossentropy"):
        with pytest.raises(ValueError, match="needs probabilities"):
            check_pairing(loss, "identity")
