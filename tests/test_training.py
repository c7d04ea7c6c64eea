"""The trainer: learning, early stopping, reproducibility, divergence, history and logging."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import xpnet
from xpnet.training import DivergenceWarning


def _snapshot(net):
    return {k: net.backend.to_numpy(v).copy() for k, v in net.state_dict().items()}


def test_learns_blobs_minibatch_and_full_batch(backend, blobs):
    X, y = blobs
    for batch_size in (16, None):
        net = xpnet.MLP([4, 16, 3], backend=backend, seed=0, dropout=0.0)
        trainer = xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.1), batch_size=batch_size, seed=0)
        history = trainer.fit(X, y, validation_data=(X, y), epochs=40)
        assert history.train_loss[-1] < 0.5 * history.train_loss[0]
        assert history.val_accuracy[-1] > 0.95
        assert (net.predict(X) == y).mean() > 0.95


def test_one_hot_and_index_targets_train_identically(blobs):
    X, y = blobs
    runs = []
    for targets in (y, np.eye(3)[y]):
        net = xpnet.MLP([4, 8, 3], dtype="float64", seed=0, dropout=0.0)
        xpnet.Trainer(net, batch_size=32, seed=0, optimizer="sgd").fit(X, targets, epochs=3)
        runs.append(_snapshot(net))
    for key in runs[0]:
        assert np.array_equal(runs[0][key], runs[1][key])


def test_seeded_runs_are_bit_identical(backend, blobs):
    X, y = blobs
    runs = []
    for _ in range(2):
        net = xpnet.MLP([4, 8, 3], dropout=0.3, batch_norm=True, backend=backend, seed=5)
        trainer = xpnet.Trainer(
            net, optimizer=xpnet.optim.Adam(lr=1e-2), batch_size=20, clip=("global_norm", 1.0), seed=7
        )
        history = trainer.fit(X, y, validation_data=(X, y), epochs=5)
        runs.append((_snapshot(net), history.train_loss))
    assert runs[0][1] == runs[1][1]
    for key in runs[0][0]:
        assert np.array_equal(runs[0][0][key], runs[1][0][key])


def test_early_stopping_restores_best_epoch_exactly(backend, blobs):
    X, y = blobs
    Xv, yv = X[:30] + 0.8, y[:30]  # a shifted validation set so the val loss turns up early

    def run(epochs, stopping):
        net = xpnet.MLP([4, 32, 3], batch_norm=True, backend=backend, seed=1, dropout=0.0)
        trainer = xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.5, momentum=0.9), batch_size=25, seed=3)
        return net, trainer.fit(X, y, validation_data=(Xv, yv), epochs=epochs, early_stopping=stopping)

    net, history = run(200, xpnet.EarlyStopping(patience=5, restore_best=True))
    assert history.stopped_epoch is not None and history.stopped_epoch < 200
    best = history.best_epoch
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert history.stopped_epoch == best + 5
    replay, _ = run(best, None)  # an uninterrupted run of exactly `best` epochs
    restored, expected = _snapshot(net), _snapshot(replay)
    for key in expected:  # weights, biases, batch-norm parameters and running statistics
        assert np.array_equal(restored[key], expected[key]), key


def test_early_stopping_without_restore_keeps_last(blobs):
    X, y = blobs
    net = xpnet.MLP([4, 32, 3], seed=1, dropout=0.0)
    trainer = xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.5, momentum=0.9), batch_size=25, seed=3)
    history = trainer.fit(
        X,
        y,
        validation_data=(X[:30] + 0.8, y[:30]),
        epochs=200,
        early_stopping=xpnet.EarlyStopping(patience=3, restore_best=False),
    )
    last_val = trainer.evaluate(X[:30] + 0.8, y[:30])[0]
    assert last_val == pytest.approx(history.val_loss[-1], rel=1e-5)


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
def test_divergence_stops_and_restores_finite_parameters(backend, blobs):
    X, y = blobs
    net = xpnet.MLP([4, 16, 3], activation="relu", output="identity", backend=backend, seed=0, dropout=0.0)
    trainer = xpnet.Trainer(net, loss="mse", optimizer=xpnet.optim.SGD(lr=1e3), batch_size=10, seed=0)
    with pytest.warns(DivergenceWarning, match="diverged at epoch"):
        history = trainer.fit(X * 100, np.eye(3)[y] * 100, epochs=50)
    assert history.diverged and history.diverged_epoch <= 50 and len(history) == history.diverged_epoch
    for value in _snapshot(net).values():
        assert np.all(np.isfinite(value))


def test_history_records_every_field(blobs):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], seed=0, dropout=0.0)
    history = xpnet.Trainer(net, batch_size=50, clip=("value", 0.5), optimizer="sgd").fit(
        X, y, validation_data=(X, y), epochs=4
    )
    assert history.epoch == [1, 2, 3, 4]
    for name in ("train_loss", "val_loss", "val_accuracy", "lr", "grad_norm", "epoch_time"):
        values = getattr(history, name)
        assert len(values) == 4 and all(np.isfinite(values)), name
    assert history.lr == [0.01] * 4 and all(g > 0 for g in history.grad_norm)
    assert set(history.to_dict()) >= {"train_loss", "best_epoch", "diverged_epoch"}


def test_log_every_logs_through_logging(blobs, caplog):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], seed=0, dropout=0.0)
    with caplog.at_level(logging.INFO, logger="xpnet"):
        xpnet.Trainer(net, optimizer="sgd", batch_size=None).fit(
            X, y, validation_data=(X, y), epochs=20, log_every=10
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "xpnet"]
    assert [line.split()[1] for line in lines] == ["1/20", "10/20", "20/20"]
    assert "val_acc" in lines[-1]


def test_progress_bar(blobs, capsys):
    X, y = blobs
    xpnet.Trainer(xpnet.MLP([4, 8, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
        X, y, epochs=3, progress=True
    )
    assert "3/3" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda t, X, y: t.fit(X, y[:-1]), ValueError, "different lengths"),
        (lambda t, X, y: t.fit(X, y + 5), ValueError, "out of range"),
        (lambda t, X, y: t.fit(X, -y - 1), ValueError, "out of range"),
        (lambda t, X, y: t.fit(X, y + 0.5), ValueError, "integer class labels"),
        (lambda t, X, y: t.fit(np.where(X > 1, np.inf, X), y), ValueError, "NaN or inf"),
        (lambda t, X, y: t.fit(X, np.where(y > 1, np.nan, y)), ValueError, "NaN or inf"),
        (lambda t, X, y: t.fit(X[:, :3], y), ValueError, "expects 4"),
        (lambda t, X, y: t.fit(X[:0], y[:0]), ValueError, "empty"),
        (lambda t, X, y: t.fit(X, y, epochs=0), ValueError, "epochs"),
        (lambda t, X, y: t.fit(X, y, validation_data=X), TypeError, "validation_data"),
    ],
)
def test_bad_fit_input(blobs, call, error, match):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], seed=0, dropout=0.0)
    before = _snapshot(net)
    with pytest.raises(error, match=match):
        call(xpnet.Trainer(net, optimizer="sgd", batch_size=None), X, y)
    after = _snapshot(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing ran


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"loss": "hinge"}, ValueError, "loss='hinge' is unknown"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer='lbfgs' is unknown"),
        ({"optimizer": xpnet.optim.SGD}, TypeError, "optimizer"),
        (
            {"clip": ("l1", 1.0)},
            ValueError,
            "clip kind='l1' is unknown; choose one of value, norm, global_norm",
        ),
        ({"clip": ("value", -1.0)}, ValueError, "clip threshold"),
        ({"clip": 1.0}, TypeError, "clip"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_trainer_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        xpnet.Trainer(xpnet.MLP([4, 3], dropout=0.0), **kwargs)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="lr="):
        xpnet.optim.SGD(lr=lr)


def test_batch_norm_rejects_a_training_batch_of_one(blobs):
    X, y = blobs  # 150 samples: batches of 149 leave one sample over
    net = xpnet.MLP([4, 8, 3], batch_norm=True, seed=0, dropout=0.0)
    with pytest.raises(ValueError, match="batch_norm needs at least 2 samples per training batch"):
        xpnet.Trainer(net, batch_size=149, optimizer="sgd").fit(X, y, epochs=1)
    xpnet.Trainer(net, batch_size=149, optimizer="sgd").fit(X[:-1], y[:-1], epochs=1)  # 149 + 0: fine
