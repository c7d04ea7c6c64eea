"""Tests that kill the mutants of xpnet/training.py that survived the suites (issue 12, tests/mutation/)."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

import xpnet
from xpnet import optim
from xpnet.callbacks import Callback, TrainingInterrupted
from xpnet.history import EarlyStopping
from xpnet.schedules import make_schedule
from xpnet.training import accuracy


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def _net(**kw):
    return xpnet.MLP([4, 6, 3], dropout=0.0, dtype="float64", seed=0, **kw)


class _Snapshots(Callback):
    """The parameters after each epoch, keyed by the epoch number History records."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, trainer, history, stopping):
        self.states[history.epoch[-1]] = {k: np.array(v, copy=True) for k, v in trainer.net.params.items()}


def test_accuracy_of_one_sigmoid_unit_thresholds_both_sides_at_one_half():
    net = xpnet.MLP([4, 3, 1], output="sigmoid", dtype="float64", dropout=0.0)
    a = np.array([[0.2], [0.7], [0.5], [0.9], [0.1], [0.3], [0.6]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0], [0.5]])  # a 0.5 target counts as positive too
    assert float(accuracy(net, a, Y)) == pytest.approx(5 / 7)


def test_a_schedule_on_the_trainers_optimizer_is_accepted_and_another_refused():
    opt = optim.SGD(lr=0.1)
    trainer = xpnet.Trainer(
        _net(), optimizer=opt, schedule=make_schedule("step", opt, epochs=6), batch_size=None
    )
    assert trainer.schedule.optimizer is opt
    with pytest.raises(ValueError, match="another optimizer"):
        xpnet.Trainer(
            _net(),
            optimizer=opt,
            schedule=make_schedule("step", optim.SGD(lr=0.1), epochs=6),
            batch_size=None,
        )


def test_seed_none_and_a_given_seed_are_kept():
    assert xpnet.Trainer(_net(), seed=None, optimizer="sgd", batch_size=None).seed is None
    assert xpnet.Trainer(_net(), seed=5, optimizer="sgd", batch_size=None).seed == 5


def test_fit_defaults_log_nothing_show_no_progress_and_checkpoint_every_10():
    defaults = {k: p.default for k, p in inspect.signature(xpnet.Trainer.fit).parameters.items()}
    assert (defaults["log_every"], defaults["progress"], defaults["checkpoint_every"]) == (0, False, 10)


def test_shuffling_draws_from_the_trainers_generator_only_for_minibatches():
    X, y = _data(n=300)

    def used_rng(batch_size, shuffle):
        trainer = xpnet.Trainer(
            _net(), optimizer=optim.SGD(lr=0.1), batch_size=batch_size, shuffle=shuffle, seed=3
        )
        trainer.fit(X, y, epochs=1)
        return trainer.rng.words(4).tolist() != _net().backend.rng(3).words(4).tolist()

    assert used_rng(100, True)
    assert not used_rng(100, False)
    assert not used_rng(None, True)  # one full batch: no shuffle (issue 12: as the references)
    assert not used_rng(300, True)  # a batch size equal to n is one full batch too


def test_batch_norm_running_statistics_follow_training():
    X, y = _data()
    net = _net(batch_norm=True)
    xpnet.Trainer(net, optimizer=optim.SGD(lr=0.1), shuffle=False, batch_size=None).fit(X, y, epochs=1)
    assert not np.allclose(net.buffers["bn0.running_mean"], 0.0)


def test_recorded_gradient_norm_is_the_global_norm_of_the_epochs_gradient():
    X, y = _data()
    net = _net()
    _, grads = net.value_and_grad(X, y)
    expected = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    trainer = xpnet.Trainer(
        net, optimizer=optim.SGD(lr=0.1), shuffle=False, track_grad_norm=True, batch_size=None
    )
    history = trainer.fit(X, y, epochs=1)
    assert history.grad_norm[0] == pytest.approx(expected, rel=1e-12)


def test_without_validation_the_restored_parameters_are_those_of_the_best_epoch_named():
    """The training loss of epoch e scores the parameters it started from: those after epoch e - 1."""
    X, y = _data()
    snaps = _Snapshots()
    net = _net()
    start = {k: np.array(v, copy=True) for k, v in net.params.items()}
    trainer = xpnet.Trainer(net, optimizer=optim.SGD(lr=3.0), shuffle=False, batch_size=None)
    history = trainer.fit(
        X, y, epochs=8, early_stopping=EarlyStopping(patience=100, restore_best=True), callbacks=[snaps]
    )
    best = int(np.argmin(history.train_loss))  # 0-based index of epoch best + 1
    assert 0 < best < 7  # the loss went down, then up: the best is neither the start nor the end
    assert history.best_epoch == best
    expected = start if best == 0 else snaps.states[best]
    assert all(np.array_equal(net.params[k], expected[k]) for k in expected)


def test_without_validation_the_last_epoch_is_scored_and_kept_when_best():
    X, y = _data()
    net = _net()
    trainer = xpnet.Trainer(net, optimizer=optim.SGD(lr=0.5), shuffle=False, batch_size=None)
    snaps = _Snapshots()
    history = trainer.fit(
        X, y, epochs=5, early_stopping=EarlyStopping(patience=100, restore_best=True), callbacks=[snaps]
    )
    assert history.best_epoch == 5  # still improving: the final parameters are the best
    assert all(np.array_equal(net.params[k], snaps.states[5][k]) for k in net.params)


def test_divergence_warning_names_the_epoch_and_its_loss():
    X, y = _data()
    net = xpnet.MLP([4, 16, 3], output="identity", dropout=0.0, seed=0)
    trainer = xpnet.Trainer(net, loss="mse", optimizer=optim.SGD(lr=0.05), batch_size=4, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = trainer.fit(X * 10, np.eye(3)[y] * 10, epochs=30)
    messages = [str(w.message) for w in caught if issubclass(w.category, xpnet.training.DivergenceWarning)]
    assert history.diverged_epoch == 2 and messages  # a finite first epoch, then the overflow
    assert f"epoch {history.diverged_epoch} (loss {history.train_loss[-1]})" in messages[0]
    assert f"restored the parameters of epoch {history.best_epoch or 0} " in messages[0]


class _CtrlCAt(Callback):
    """A KeyboardInterrupt from inside the run (as a second Ctrl-C mid-epoch raises it)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, history, stopping):
        if history.epoch[-1] == self.epoch:
            raise KeyboardInterrupt


def test_a_keyboard_interrupt_inside_the_run_ends_it_cleanly_with_the_history():
    X, y = _data()
    trainer = xpnet.Trainer(_net(), optimizer=optim.SGD(lr=0.1), shuffle=False)
    with pytest.raises(TrainingInterrupted) as caught:
        trainer.fit(X, y, epochs=5, callbacks=[_CtrlCAt(2)])
    assert caught.value.history.interrupted_epoch == 2


def test_the_progress_bar_counts_the_epochs_run(capsys):
    X, y = _data()
    xpnet.Trainer(_net(), optimizer=optim.SGD(lr=0.1), shuffle=False).fit(X, y, epochs=3, progress=True)
    last = capsys.readouterr().err.strip().split("\r")[-1]  # the bar's final state
    assert "100%" in last and "3/3" in last


def test_resuming_a_run_that_already_ran_all_its_epochs_is_allowed(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    xpnet.Trainer(_net(), optimizer=optim.SGD(lr=0.1), shuffle=False).fit(X, y, epochs=3, checkpoint=path)
    net = _net()
    history = xpnet.Trainer(net, optimizer=optim.SGD(lr=0.1), shuffle=False).fit(
        X, y, epochs=3, resume_from=path
    )
    assert history.epoch == [1, 2, 3]


class _PoisonDeadUnitAtEpoch(Callback):
    """Set a dead ReLU unit's bias to -inf at the end of ``epoch``: parameters non-finite, loss unchanged."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, history, stopping):
        if history.epoch[-1] == self.epoch:
            trainer.net.params["dense0.bias"][0] = -np.inf


def test_final_parameters_that_are_not_finite_are_never_restored_as_the_best():
    X, y = _data()
    net = _net()
    net.params["dense0.bias"][0] = -50.0  # unit 0 is dead from the start: it never contributes
    trainer = xpnet.Trainer(net, optimizer=optim.SGD(lr=0.5), shuffle=False)
    stopper = EarlyStopping(patience=100, restore_best=True)
    trainer.fit(X, y, epochs=5, early_stopping=stopper, callbacks=[_PoisonDeadUnitAtEpoch(5)])
    assert all(np.all(np.isfinite(v)) for v in net.params.values())
