"""RunConfig: one set of defaults (the CLI's), validation naming the field, JSON, and what it builds."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import xpnet
from xpnet.config import COSINE_ADAM_LR, RUN_FIELDS, Run, RunConfig, parse_hidden
from xpnet.optim import SGD, Adam, AdamW, RMSprop
from xpnet.schedules import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR

# The options of `xpnet train` that are not settings of the run itself (data, output, files).
NOT_RUN_OPTIONS = {
    "config", "dataset", "val_size", "test_size", "log_every", "progress", "plot", "save",
    "checkpoint", "checkpoint_every", "resume", "json", "func", "data", "target", "task", "threads",
    "ensemble",  # xpnet train --ensemble K: how many runs, not a field of one
}  # fmt: skip
NO_FLAG_FIELDS = {"shuffle", "track_grad_norm", "restore_best", "track_min"}  # set in code or a config file


@pytest.fixture(scope="module")
def iris():
    from xpnet.data import load_dataset

    return load_dataset("iris", seed=0)


def _train_defaults() -> dict:
    from xpnet.cli import add_train_parser

    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return vars(parser.parse_args(["train"]))


# --- one set of defaults -----------------------------------------------------------------------


def test_defaults_are_the_cli_defaults_and_fields_are_its_option_names():
    parsed = _train_defaults()
    run_options = set(parsed) - NOT_RUN_OPTIONS - {"command"}
    assert run_options == set(RUN_FIELDS) - NO_FLAG_FIELDS
    defaults = RunConfig().to_dict()
    assert {k: parsed[k] for k in run_options} == {k: defaults[k] for k in run_options}
    assert RunConfig.from_dict({k: parsed[k] for k in run_options}) == RunConfig()
    assert (RunConfig().shuffle, RunConfig().track_grad_norm) == (True, True)
    assert (RunConfig().restore_best, RunConfig().track_min) == (True, False)  # EarlyStopping's own


def test_hidden_is_a_tuple_of_ints_from_a_list_an_int_or_text():
    assert RunConfig(hidden=[256, 128]).hidden == (256, 128)
    assert RunConfig(hidden=64).hidden == (64,)
    assert RunConfig.from_dict({"hidden": "128, 64"}).hidden == (128, 64)
    assert RunConfig(hidden=np.array([3, 2])).hidden == (3, 2)
    assert RunConfig(hidden="").hidden == () and parse_hidden([]) == ()
    assert RunConfig(lr=1).lr == 1.0 and isinstance(RunConfig(lr=1).lr, float)
    assert RunConfig(dtype=np.float64).dtype == "float64"


def test_frozen_and_replace_validates():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3  # type: ignore[misc]
    assert cfg.replace(epochs=3, hidden=[4]) == RunConfig(epochs=3, hidden=(4,))
    assert cfg.epochs == 100
    with pytest.raises(ValueError, match="epochs"):
        cfg.replace(epochs=0)
    with pytest.raises(ValueError, match="'epoch'"):
        cfg.replace(epoch=3)


# --- JSON ----------------------------------------------------------------------------------------


def test_json_round_trip_text_path_and_dict(tmp_path):
    cfg = RunConfig(
        hidden=(32, 16), activation="tanh", dropout=0.1, batch_norm=True, optimizer="sgd", lr=0.05,
        schedule="step", step_size=5, gamma=0.5, clip="global_norm", clip_value=2.0, batch_size=0,
        epochs=7, shuffle=False, patience=3, min_delta=1e-3, dtype="float64", seed=11,
    )  # fmt: skip
    text = cfg.to_json()
    assert json.loads(text)["hidden"] == [32, 16]
    assert RunConfig.from_json(text) == cfg
    path = tmp_path / "run.json"
    path.write_text(text)
    assert RunConfig.from_json(path) == cfg and RunConfig.from_json(str(path)) == cfg
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert RunConfig.from_json(RunConfig().to_json()) == RunConfig()
    assert hash(RunConfig.from_json(text)) == hash(cfg)
    assert RunConfig.from_dict({"epochs": 5}) == RunConfig(epochs=5)  # missing fields: the defaults


def test_bad_json_and_unknown_keys(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        RunConfig.from_json("{not json")
    with pytest.raises(TypeError, match="mapping"):
        RunConfig.from_json("[1, 2]")
    with pytest.raises(ValueError, match=r"'batchsize', 'lrate'"):
        RunConfig.from_dict({"batchsize": 3, "lrate": 0.1, "epochs": 2})
    with pytest.raises(FileNotFoundError):
        RunConfig.from_json(tmp_path / "missing.json")


# --- validation ------------------------------------------------------------------------------------

BAD = [
    ("hidden", [64, 0], ValueError),
    ("hidden", "64,x", ValueError),
    ("hidden", [8, True], ValueError),
    ("hidden", None, TypeError),
    ("activation", "swish", ValueError),
    ("output", "relu", ValueError),
    ("init", "orthogonal", ValueError),
    ("dropout", 1.0, ValueError),
    ("dropout", "0.2", TypeError),
    ("batch_norm", "yes", TypeError),
    ("batch_norm", 1, TypeError),
    ("loss", "hinge", ValueError),
    ("optimizer", "lbfgs", ValueError),
    ("lr", 0.0, ValueError),
    ("lr", "1e-3", TypeError),
    ("momentum", -0.1, ValueError),
    ("weight_decay", math.inf, ValueError),
    ("schedule", "linear", ValueError),
    ("warmup_epochs", -1, ValueError),
    ("warmup_epochs", 1.5, TypeError),
    ("step_size", 0, ValueError),
    ("gamma", -0.5, ValueError),
    ("eta_min", -1e-3, ValueError),
    ("schedule_patience", -1, ValueError),
    ("clip", "sideways", ValueError),
    ("clip_value", 0.0, ValueError),
    ("batch_size", -1, ValueError),
    ("batch_size", True, TypeError),
    ("epochs", 0, ValueError),
    ("epochs", 10.0, TypeError),
    ("shuffle", "false", TypeError),
    ("track_grad_norm", None, TypeError),
    ("patience", -1, ValueError),
    ("min_delta", math.nan, ValueError),
    ("restore_best", "true", TypeError),
    ("track_min", 0, TypeError),
    ("backend", "jax", ValueError),
    ("device", True, TypeError),
    ("dtype", "int32", TypeError),
    ("seed", -1, ValueError),
    ("seed", "0", TypeError),
]


def test_every_field_has_a_bad_value_case():
    assert {name for name, _, _ in BAD} == set(RUN_FIELDS)


@pytest.mark.parametrize(("name", "value", "error"), BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_bad_field_raises_naming_the_field(name, value, error):
    with pytest.raises(error, match=name):
        RunConfig(**{name: value})
    with pytest.raises(error, match=name):
        RunConfig.from_dict({name: value})


def test_plateau_refuses_a_warm_up_up_front():
    with pytest.raises(ValueError, match="warmup_epochs=2 is not supported with schedule='plateau'"):
        RunConfig(schedule="plateau", warmup_epochs=2)
    assert RunConfig(schedule="plateau", warmup_epochs=0).resolved_warmup() == 0


# --- what it builds --------------------------------------------------------------------------------


def test_n_outputs_one_sigmoid_unit_for_two_classes():
    assert RunConfig(output="sigmoid").n_outputs(2) == 1
    assert RunConfig(output="sigmoid").n_outputs(3) == 3
    assert RunConfig(output="softmax").n_outputs(2) == 2


def test_build_default_run():
    cfg = RunConfig()
    run = cfg.build(64, cfg.n_outputs(10))
    assert isinstance(run, Run)
    net, trainer, stopping = run
    assert net.layers == [64, 128, 10]
    assert (net.activation, net.output, net.init, net.dropout, net.batch_norm, net.dtype) == (
        "relu", "softmax", "he_normal", 0.2, False, "float32",
    )  # fmt: skip
    assert net.backend.name == "numpy"
    reference = xpnet.MLP([64, 128, 10], dropout=0.2, seed=0)  # the same seed: the same weights
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[key], value)
    assert trainer.net is net and trainer.loss == "categorical_crossentropy"
    assert type(trainer.optimizer) is Adam and trainer.optimizer.lr == 1e-3
    assert trainer.batch_size == 32 and trainer.shuffle and trainer.track_grad_norm
    assert trainer.clip is None and trainer.schedule is None and trainer.seed == 0
    assert (stopping.patience, stopping.min_delta, stopping.restore_best) == (20, 0.0, True)
    assert RunConfig(patience=0).build(64, 10).early_stopping is None  # 0 disables early stopping


@pytest.mark.parametrize(
    ("changes", "optimizer", "lr"),
    [
        ({"optimizer": "sgd"}, SGD, 0.01),
        ({"optimizer": "rmsprop"}, RMSprop, 0.01),
        ({"optimizer": "adam", "schedule": "cosine"}, Adam, COSINE_ADAM_LR),
        ({"optimizer": "adamw", "schedule": "cosine"}, AdamW, COSINE_ADAM_LR),
        ({"optimizer": "adam", "schedule": "cosine", "lr": 3e-4}, Adam, 3e-4),
        ({"optimizer": "sgd", "schedule": "cosine"}, SGD, 0.01),
    ],
)
def test_learning_rate_defaults(changes, optimizer, lr):
    cfg = RunConfig(**changes)
    opt = cfg.build_optimizer()
    assert type(opt) is optimizer and opt.lr == lr
    schedule = cfg.build_trainer(cfg.build_network(3, 2)).schedule
    if cfg.schedule == "constant":
        assert schedule is None
    else:
        assert schedule.base_lr == lr  # the rate the warm-up climbs to and the annealing starts from


def test_build_optimizer_hyperparameters_and_clipping():
    net, trainer, stopping = RunConfig(
        optimizer="nesterov", lr=0.05, momentum=0.8, weight_decay=1e-4, clip="norm", clip_value=0.5,
        batch_size=0, shuffle=False, track_grad_norm=False, seed=5, patience=4, min_delta=0.01,
        restore_best=False, track_min=True, batch_norm=True, hidden=(16, 8), dtype="float64",
    ).build(4, 3)  # fmt: skip
    opt = trainer.optimizer
    assert type(opt) is SGD and (opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == (
        0.05,
        0.8,
        True,
        1e-4,
    )
    assert trainer.clip == ("norm", 0.5) and trainer.batch_size is None  # 0 is full batch
    assert not trainer.shuffle and not trainer.track_grad_norm and trainer.seed == 5
    assert net.layers == [4, 16, 8, 3] and net.batch_norm and net.dtype == "float64"
    assert isinstance(stopping, xpnet.EarlyStopping)
    assert (stopping.patience, stopping.min_delta, stopping.restore_best, stopping.track_min) == (
        4,
        0.01,
        False,
        True,
    )
    assert RunConfig(optimizer="sgd").build_trainer(net).optimizer.momentum == 0.0


def test_build_schedules():
    def schedule(**changes):
        cfg = RunConfig(**changes)
        return cfg.build_schedule(cfg.build_optimizer())

    cosine = schedule(schedule="cosine", epochs=50)
    assert type(cosine) is CosineAnnealingLR and cosine.warmup_epochs == 5 and cosine.T_max == 50
    assert schedule(schedule="cosine", epochs=50, warmup_epochs=0).warmup_epochs == 0
    assert schedule(schedule="cosine", eta_min=1e-5).eta_min == 1e-5
    step = schedule(schedule="step", epochs=30)
    assert type(step) is StepLR and (step.step_size, step.gamma) == (10, 0.1)
    step = schedule(schedule="step", step_size=4, gamma=0.5)
    assert (step.step_size, step.gamma) == (4, 0.5)
    assert type(schedule(schedule="exponential")) is ExponentialLR
    plateau = schedule(schedule="plateau", gamma=0.3, schedule_patience=2)
    assert type(plateau) is ReduceLROnPlateau and (plateau.factor, plateau.patience) == (0.3, 2)
    assert schedule() is None  # constant without warm-up: no schedule at all
    assert schedule(warmup_epochs=3).warmup_epochs == 3


def test_build_trainer_continues_a_given_optimizer():
    cfg = RunConfig(hidden=(4,))
    net = cfg.build_network(3, 2)
    opt = cfg.build_optimizer()
    assert cfg.build_trainer(net, opt).optimizer is opt
    assert cfg.fit_kwargs()["epochs"] == 100 and cfg.fit_kwargs()["early_stopping"].patience == 20
    assert cfg.replace(patience=0).fit_kwargs()["early_stopping"] is None


def test_build_trains_as_the_parts_built_by_hand(iris):
    cfg = RunConfig(
        hidden=(8,), optimizer="momentum", lr=0.05, schedule="cosine", epochs=6, clip="value", seed=3
    )
    net, trainer, _ = cfg.build(iris.n_features, cfg.n_outputs(iris.n_classes))
    ref_net = xpnet.MLP([iris.n_features, 8, 3], dropout=0.2, seed=3)
    ref_opt = SGD(lr=0.05, momentum=0.9)
    ref = xpnet.Trainer(
        ref_net, optimizer=ref_opt, batch_size=32, clip=("value", 1.0), seed=3,
        schedule=CosineAnnealingLR(ref_opt, 6, warmup_epochs=0),
    )  # fmt: skip
    ours = trainer.fit(iris.X_train, iris.y_train, epochs=cfg.epochs)
    theirs = ref.fit(iris.X_train, iris.y_train, epochs=6)
    assert ours.train_loss == theirs.train_loss and ours.lr == theirs.lr


# --- the command line ------------------------------------------------------------------------------


def test_train_config_file_holds_a_run_config_and_flags_win(tmp_path, capsys, monkeypatch):
    from xpnet.cli import main

    cfg = RunConfig(hidden=(8,), optimizer="sgd", lr=0.1, epochs=3, shuffle=False, seed=1, batch_size=0)
    path = tmp_path / "run.json"
    path.write_text(cfg.to_json())
    built, real = [], RunConfig.build
    monkeypatch.setattr(RunConfig, "build", lambda self, *a: built.append(self) or real(self, *a))
    assert main(["train", "--dataset", "iris", "--config", str(path), "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["layers"] == [4, 8, 3] and result["epochs"] == 2
    assert built == [cfg.replace(epochs=2)]  # every field from the file (shuffle too), the flag won


def test_train_config_file_bad_value_and_unknown_key(tmp_path, capsys):
    from xpnet.cli import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps({**RunConfig().to_dict(), "dropout": 1.5, "epochs": 1}))
    assert main(["train", "--dataset", "iris", "--config", str(path)]) == 2
    assert "dropout=1.5" in capsys.readouterr().err
    path.write_text(json.dumps({"epochs": 1, "epoch": 2}))
    assert main(["train", "--config", str(path)]) == 2  # a user error: exit 2, one line
    err = capsys.readouterr().err
    assert "unknown option(s) epoch" in err and str(path) in err and len(err.strip().splitlines()) == 1


def test_config_never_imports_the_command_line():
    code = "import sys, xpnet.config, xpnet.sklearn_params; print('xpnet.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the scikit-learn estimators map onto it -------------------------------------------------------


def test_estimator_parameters_map_to_a_run_config():
    from xpnet.sklearn import XPNetClassifier
    from xpnet.sklearn_params import batch_size_for, estimator_config

    est = XPNetClassifier(
        learning_rate="cosine", learning_rate_init=2e-3, clip=("value", 0.5), early_stopping=True
    )
    cfg = estimator_config(est)
    assert cfg.hidden == (100,) and cfg.lr == 2e-3 and cfg.epochs == 200 and cfg.schedule == "cosine"
    assert cfg.resolved_warmup() == 0 and cfg.patience == 10 and cfg.min_delta == 1e-4
    assert (cfg.clip, cfg.clip_value) == ("value", 0.5)
    assert cfg.restore_best and cfg.track_min and not cfg.track_grad_norm and cfg.shuffle
    assert batch_size_for("auto", 50) == 50 and batch_size_for("auto", 500) == 200
    assert batch_size_for(None, 50) is None and batch_size_for(64, 50) == 50
