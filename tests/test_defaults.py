"""One set of defaults: the Python API's default run is ``xpnet train``'s (issue 16, item 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xpnet
from xpnet.cli import main
from xpnet.data import load_dataset


def test_python_default_run_equals_xpnet_train(tmp_path, capsys):
    """The quickstart's defaults (nothing but the layers and the epochs spelled out) and
    ``xpnet train`` with no options train the same network on the same split."""
    ds = load_dataset("digits")
    net = xpnet.MLP([64, 128, 10])
    history = xpnet.Trainer(net).fit(
        ds.X_train,
        ds.y_train,
        validation_data=(ds.X_val, ds.y_val),
        epochs=3,
        early_stopping=xpnet.EarlyStopping(),
    )
    python_acc = float((net.predict(ds.X_test) == ds.y_test).mean())

    assert main(["train", "--epochs", "3", "--save", str(tmp_path / "cli.npz"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cli = xpnet.load(tmp_path / "cli.npz")

    assert cli.config() == net.config()
    python_state, cli_state = net.state_dict(), cli.state_dict()
    assert python_state.keys() == cli_state.keys()
    for key in python_state:
        np.testing.assert_array_equal(python_state[key], cli_state[key], err_msg=key)
    assert report["test_accuracy"] == pytest.approx(python_acc, abs=1e-6)
    assert report["best_epoch"] == history.best_epoch


def test_run_config_defaults_are_the_python_api_defaults():
    """Each RunConfig default is the default of the parameter of the same name it builds with."""
    cfg = xpnet.RunConfig()
    net = xpnet.MLP([4, *cfg.hidden, 3])
    trainer = xpnet.Trainer(net)
    stopping = xpnet.EarlyStopping()
    for name in ("activation", "output", "init", "dropout", "batch_norm", "dtype", "seed"):
        assert getattr(net, name) == getattr(cfg, name), name
    assert (trainer.loss, trainer.batch_size, trainer.shuffle, trainer.track_grad_norm) == (
        cfg.loss,
        cfg.batch_size,
        cfg.shuffle,
        cfg.track_grad_norm,
    )
    assert type(trainer.optimizer) is type(cfg.build_optimizer())
    assert trainer.optimizer.lr == cfg.build_optimizer().lr == 1e-3
    assert trainer.schedule is None and cfg.build_schedule(trainer.optimizer) is None
    assert trainer.clip is None and cfg.clip is None
    for name in ("patience", "min_delta", "restore_best", "track_min"):
        assert getattr(stopping, name) == getattr(cfg, name), name
    ds = load_dataset("digits")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1257, 180, 360)  # 0.7 / 0.1 / 0.2


def test_explicit_old_values_still_work():
    """The previous Python defaults stay one argument away: full batch, SGD 0.01, no dropout."""
    net = xpnet.MLP([4, 8, 3], dropout=0.0)
    trainer = xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.01), batch_size=None)
    assert net.dropout == 0.0 and trainer.batch_size is None and trainer.optimizer.lr == 0.01
    assert xpnet.Trainer(net, optimizer=None).optimizer.lr == 1e-3  # None: the default optimizer
    ds = load_dataset("iris", val_size=0.15)
    assert len(ds.y_val) == 23
