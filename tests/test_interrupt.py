"""Ctrl-C during training: the run stops after the epoch, best parameters restored, outputs written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet.callbacks import Callback
from xpnet.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


class _CtrlCAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, history, stopping):
        if history.epoch[-1] == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)  # delivered now, to the handler fit installed


def _run_interrupted(tmp_path, epochs, **fit):
    with pytest.raises(xpnet.TrainingInterrupted) as stopped:
        _run(tmp_path, epochs, **fit)
    return stopped.value.history


def _run(tmp_path, epochs, **fit):
    ds = load_dataset("iris", val_size=0.2, seed=0)
    cfg = xpnet.RunConfig(hidden=(16,), epochs=epochs, patience=0, batch_size=16, dropout=0.1)
    net, trainer, stopping = cfg.build(ds.n_features, cfg.n_outputs(ds.n_classes))
    history = trainer.fit(ds.X_train, ds.y_train, validation_data=(ds.X_val, ds.y_val), epochs=epochs, **fit)
    return net, trainer, history


def test_sigint_stops_after_the_epoch_restores_best_and_resumes_exactly(tmp_path):
    ckpt = tmp_path / "run.npz"
    seen = {}

    class Keep(Callback):
        def on_train_end(self, trainer, history):
            seen["net"], seen["trainer"] = trainer.net, trainer

    history = _run_interrupted(
        tmp_path, 12, checkpoint=ckpt, checkpoint_every=100, callbacks=[_CtrlCAt(5), Keep()]
    )
    net, trainer = seen["net"], seen["trainer"]
    assert history.interrupted_epoch == 5 and len(history) == 5 and history.stopped_epoch is None
    assert ckpt.exists()  # written at the interrupt, though checkpoint_every=100
    best = trainer.stopper.best_state
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(best[key]))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    resumed, _, h2 = _run(tmp_path, 12, resume_from=ckpt)
    straight, _, h3 = _run(tmp_path, 12)
    assert h2.interrupted_epoch is None and len(h2) == 12
    assert h2.train_loss == h3.train_loss
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(np.asarray(resumed.state_dict()[key]), np.asarray(value))


def test_second_sigint_stops_at_once(tmp_path):
    class Twice(Callback):
        def on_epoch_end(self, trainer, history, stopping):
            if history.epoch[-1] == 3:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)  # raises KeyboardInterrupt here, mid-run

    history = _run_interrupted(tmp_path, 10, callbacks=[Twice()])
    assert history.interrupted_epoch == 3


def test_ctrl_c_in_xpnet_train_writes_outputs_and_exits_130(tmp_path):
    ckpt, model, plot = tmp_path / "ck.npz", tmp_path / "best.npz", tmp_path / "loss.png"
    cmd = [sys.executable, "-m", "xpnet.cli", *"train --epochs 5000 --patience 0 --json".split()]
    cmd += ["--checkpoint", str(ckpt), "--checkpoint-every", "2", "--save", str(model), "--plot", str(plot)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert ckpt.exists(), "no checkpoint appeared"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["interrupted_epoch"] >= 2 and result["epochs"] == result["interrupted_epoch"]
    assert "Traceback" not in err
    assert f"resume with the same command plus --resume {ckpt}" in err
    assert plot.exists()
    loaded = xpnet.load(model)
    ds = load_dataset("digits", val_size=0.1, seed=0)
    assert (
        abs(np.mean(loaded.predict_proba(_raw_test(ds)).argmax(1) == ds.y_test) - result["test_accuracy"])
        < 1e-6
    )


def _raw_test(ds):
    from xpnet.data import load_raw

    X_raw, _ = load_raw("digits")
    index = {row.tobytes(): i for i, row in enumerate(ds.preprocessor.transform(X_raw))}
    return X_raw[[index[row.tobytes()] for row in ds.X_test]].astype(np.float64)


def test_xpnet_train_interrupted_then_resumed_ends_where_an_uninterrupted_run_does(tmp_path, capsys):
    import threading

    from xpnet.cli import main

    ckpt = tmp_path / "ck.npz"
    base = "-q train --hidden 32 --batch-size 128 --epochs 120 --patience 0 --json".split()
    base += ["--checkpoint", str(ckpt), "--checkpoint-every", "3"]

    def ctrl_c_once_checkpointed():
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c_once_checkpointed, daemon=True).start()
    assert main([*base, "--save", str(tmp_path / "best.npz")]) == 130
    first = json.loads(capsys.readouterr().out)
    assert 3 <= first["interrupted_epoch"] < 120, first
    assert xpnet.load(tmp_path / "best.npz").n_features == 64  # a loadable best model
    assert main([*base, "--resume", str(ckpt), "--save", str(tmp_path / "resumed.npz")]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert main([*base[:-4], "--save", str(tmp_path / "straight.npz")]) == 0
    straight = json.loads(capsys.readouterr().out)
    assert resumed["epochs"] == straight["epochs"] == 120
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    a, b = xpnet.load(tmp_path / "resumed.npz"), xpnet.load(tmp_path / "straight.npz")
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(b.state_dict()[key]))
