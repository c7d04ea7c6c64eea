"""Checkpoints: an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import xpnet
from xpnet import optim
from xpnet import schedules as S
from xpnet.io import read_npz

EPOCHS = 12


class Interrupt(Exception):
    """Stands in for a crash or a Ctrl-C in the middle of an epoch."""


SETUPS = {
    "adam_cosine_warmup_dropout_bn": dict(
        net={"dropout": 0.3, "batch_norm": True},
        opt=lambda: optim.Adam(lr=0.01, amsgrad=True),
        sched=lambda o: S.CosineAnnealingLR(o, EPOCHS, warmup_epochs=3),
        trainer={"batch_size": 16, "clip": ("global_norm", 1.0)},
        val=True,
        stop=None,
    ),
    "nesterov_plateau_early_stopping": dict(
        net={"dropout": 0.2},
        opt=lambda: optim.SGD(lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-3),
        sched=lambda o: S.ReduceLROnPlateau(o, patience=1, factor=0.5),
        trainer={"batch_size": 32},
        val=True,
        stop=lambda: xpnet.EarlyStopping(patience=5),  # stops in epoch 9, after the resume
    ),
    "rmsprop_step_no_validation": dict(
        net={"batch_norm": True, "dropout": 0.0},
        opt=lambda: optim.RMSprop(lr=0.01, momentum=0.5, centered=True),
        sched=lambda o: S.StepLR(o, 4, 0.5),
        trainer={"batch_size": 20},
        val=False,
        stop=None,
    ),
}


def _trainer(backend, setup):
    net = xpnet.MLP([4, 16, 8, 3], backend=backend, seed=7, **setup["net"])
    opt = setup["opt"]()
    return xpnet.Trainer(net, optimizer=opt, schedule=setup["sched"](opt), seed=11, **setup["trainer"])


def _fit(trainer, blobs, setup, **kwargs):
    X, y = blobs
    return trainer.fit(
        X[:120],
        y[:120],
        validation_data=(X[120:], y[120:]) if setup["val"] else None,
        epochs=EPOCHS,
        early_stopping=setup["stop"]() if setup["stop"] else None,
        **kwargs,
    )


def _interrupt_at(trainer, epoch, monkeypatch):
    calls = {"n": 0}
    run_epoch = trainer.train_epoch

    def epoch_then_crash(X, Y):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise Interrupt
        return run_epoch(X, Y)

    monkeypatch.setattr(trainer, "train_epoch", epoch_then_crash)


def _host(net):
    return {k: net.backend.to_numpy(v).copy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("name", list(SETUPS))
def test_resume_is_bit_identical(backend, blobs, tmp_path, monkeypatch, name):
    setup = SETUPS[name]
    reference = _trainer(backend, setup)
    full = _fit(reference, blobs, setup)

    path = tmp_path / "run.ckpt.npz"
    first = _trainer(backend, setup)
    _interrupt_at(first, 8, monkeypatch)  # dies in epoch 8; the last checkpoint is epoch 5's
    with pytest.raises(Interrupt):
        _fit(first, blobs, setup, checkpoint=path, checkpoint_every=5)
    assert read_npz(path)[1]["epoch"] == 5
    assert [p for p in os.listdir(tmp_path) if p != path.name] == []  # no temporary files left

    second = _trainer(backend, setup)  # a fresh process would build the same objects
    resumed = _fit(second, blobs, setup, checkpoint=path, checkpoint_every=5, resume_from=path)

    ours, ref = _host(second.net), _host(reference.net)
    for key in ref:
        assert np.array_equal(ours[key], ref[key]), key
    assert second.optimizer.lr == reference.optimizer.lr
    assert second.optimizer.steps == reference.optimizer.steps
    for field in ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "grad_norm"):
        a, b = getattr(resumed, field), getattr(full, field)
        assert len(a) == len(b) and all(
            x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True)
        ), field
    assert (resumed.best_epoch, resumed.stopped_epoch) == (full.best_epoch, full.stopped_epoch)
    assert len(set(full.lr)) > 1  # the schedule really acted
    assert read_npz(path)[1]["epoch"] == len(full)  # the final checkpoint marks the end of the run


def test_resume_on_torch_continues_the_generators(blobs, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    setup = SETUPS["adam_cosine_warmup_dropout_bn"]
    backend = xpnet.get_backend("torch")
    reference = _trainer(backend, setup)
    _fit(reference, blobs, setup)
    path = tmp_path / "torch.npz"
    first = _trainer(backend, setup)
    _interrupt_at(first, 6, monkeypatch)
    with pytest.raises(Interrupt):
        _fit(first, blobs, setup, checkpoint=path, checkpoint_every=2)
    second = _trainer(backend, setup)
    _fit(second, blobs, setup, resume_from=path)
    ours, ref = _host(second.net), _host(reference.net)
    for key in ref:
        assert np.array_equal(ours[key], ref[key]), key


def test_checkpoint_contents(blobs, tmp_path):
    setup = SETUPS["adam_cosine_warmup_dropout_bn"]
    trainer = _trainer("numpy", setup)
    _fit(trainer, blobs, setup, checkpoint=tmp_path / "c.npz", checkpoint_every=100)
    arrays, meta = read_npz(tmp_path / "c.npz")  # allow_pickle=False inside
    assert meta["format"] == "xpnet.checkpoint" and meta["epoch"] == EPOCHS
    assert {"model/dense0.weight", "model/bn0.running_var", "best/dense0.weight"} <= set(arrays)
    assert "optim/dense0.weight/max_exp_avg_sq" in arrays
    assert meta["optimizer"]["steps"] == trainer.optimizer.steps
    assert meta["schedule"]["type"] == "CosineAnnealingLR" and meta["schedule"]["last_epoch"] == EPOCHS
    assert meta["rng"]["trainer"] == trainer.rng.get_state()
    assert meta["rng"]["trainer"]["generator"] == "philox4x64-10" and meta["rng"]["trainer"]["counter"] > 0
    assert len(meta["history"]["train_loss"]) == EPOCHS


def test_resuming_a_finished_run_changes_nothing(blobs, tmp_path):
    setup = SETUPS["nesterov_plateau_early_stopping"]
    trainer = _trainer("numpy", setup)
    history = _fit(trainer, blobs, setup, checkpoint=tmp_path / "c.npz")
    again = _trainer("numpy", setup)
    resumed = _fit(again, blobs, setup, resume_from=tmp_path / "c.npz")
    assert resumed.train_loss == history.train_loss
    ours, ref = _host(again.net), _host(trainer.net)
    assert all(np.array_equal(ours[k], ref[k]) for k in ref)


def _checkpointed(blobs, tmp_path):
    setup = SETUPS["rmsprop_step_no_validation"]
    _fit(_trainer("numpy", setup), blobs, setup, checkpoint=tmp_path / "c.npz")
    return setup, tmp_path / "c.npz"


def test_resume_rejects_a_different_network_or_optimizer(blobs, tmp_path):
    setup, path = _checkpointed(blobs, tmp_path)
    X, y = blobs
    other = xpnet.Trainer(
        xpnet.MLP([4, 9, 8, 3], batch_norm=True, dropout=0.0), optimizer=setup["opt"](), batch_size=None
    )
    with pytest.raises(ValueError, match="is for the network"):
        other.fit(X, y, epochs=EPOCHS, resume_from=path)
    wrong_opt = xpnet.Trainer(
        xpnet.MLP([4, 16, 8, 3], batch_norm=True, seed=7, dropout=0.0),
        optimizer=optim.Adam(),
        batch_size=None,
    )
    with pytest.raises(ValueError, match="RMSprop state"):
        wrong_opt.fit(X, y, epochs=EPOCHS, resume_from=path)
    no_schedule = xpnet.Trainer(
        xpnet.MLP([4, 16, 8, 3], batch_norm=True, seed=7, dropout=0.0),
        optimizer=setup["opt"](),
        batch_size=None,
    )
    with pytest.raises(ValueError, match="schedule"):
        no_schedule.fit(X, y, epochs=EPOCHS, resume_from=path)
    with pytest.raises(ValueError, match="epochs=5"):
        _trainer("numpy", setup).fit(X, y, epochs=5, resume_from=path)


def test_resume_warns_about_changed_settings(blobs, tmp_path):
    setup, path = _checkpointed(blobs, tmp_path)
    X, y = blobs
    trainer = _trainer("numpy", setup)
    trainer.batch_size = 8
    with pytest.warns(UserWarning, match="batch_size"):
        trainer.fit(X, y, epochs=EPOCHS + 1, resume_from=path)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"checkpoint_every": 0}, ValueError, "checkpoint_every"),
        ({"checkpoint": 3}, TypeError, "checkpoint"),
        ({"resume_from": "missing.npz"}, FileNotFoundError, "resume_from"),
    ],
)
def test_bad_checkpoint_arguments(blobs, tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    X, y = blobs
    with pytest.raises(error, match=match):
        xpnet.Trainer(xpnet.MLP([4, 8, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
            X, y, epochs=2, **kwargs
        )


def test_resume_from_a_model_file_is_refused(blobs, tmp_path):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], dropout=0.0)
    net.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="not an xpnet checkpoint"):
        xpnet.Trainer(net, optimizer="sgd", batch_size=None).fit(
            X, y, epochs=2, resume_from=tmp_path / "model.npz"
        )


def test_cli_checkpoint_and_resume(tmp_path, capsys):
    """`xpnet train --resume` continues a shorter run's checkpoint to the same model as one long run."""
    import json

    from xpnet.cli import main

    base = ["train", "--dataset", "iris", "--hidden", "8", "--batch-norm", "--batch-size", "16", "--json"]
    assert main([*base, "--epochs", "6", "--save", str(tmp_path / "full.npz")]) == 0
    full = json.loads(capsys.readouterr().out)
    ckpt = str(tmp_path / "run.ckpt")
    assert main([*base, "--epochs", "4", "--checkpoint", ckpt, "--checkpoint-every", "2"]) == 0
    capsys.readouterr()
    assert read_npz(ckpt)[1]["epoch"] == 4
    argv = [
        *base,
        "--epochs",
        "6",
        "--resume",
        ckpt,
        "--checkpoint",
        ckpt,
        "--save",
        str(tmp_path / "resumed.npz"),
    ]
    assert main(argv) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["test_accuracy"] == full["test_accuracy"] and resumed["epochs"] == 6
    assert read_npz(ckpt)[1]["epoch"] == 6
    a, b = read_npz(tmp_path / "full.npz")[0], read_npz(tmp_path / "resumed.npz")[0]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert main([*base, "--epochs", "6", "--resume", str(tmp_path / "nope.npz")]) == 2
    err = capsys.readouterr().err  # one line naming the option and the file, no traceback
    assert "--resume" in err and "nope.npz" in err and "no checkpoint file" in err
    assert len(err.strip().splitlines()) == 1
