"""Learning-rate schedules: per-epoch rates equal torch.optim.lr_scheduler's; History.lr; state; bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import xpnet
from xpnet import optim
from xpnet import schedules as S

try:  # optional: only the comparisons with torch.optim.lr_scheduler need it (they skip without it)
    import torch

    T = torch.optim.lr_scheduler
except ImportError:
    torch = T = None
EPOCHS = 70


def _torch_rates(make, metrics=None, base=0.5):
    pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    rates = []
    for e in range(EPOCHS):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(metrics[e]) if metrics is not None else sched.step()
    return rates


def _our_rates(make, metrics=None, base=0.5):
    opt = optim.SGD(lr=base)
    sched = make(opt)
    rates = []
    for e in range(EPOCHS):
        rates.append(opt.lr)
        sched.step(None if metrics is None else metrics[e])
    return rates


EPOCH_CASES = {
    "step": (lambda o: T.StepLR(o, 7, gamma=0.3), lambda o: S.StepLR(o, 7, gamma=0.3)),
    "step_default_gamma": (lambda o: T.StepLR(o, 10), lambda o: S.StepLR(o, 10)),
    "exponential": (lambda o: T.ExponentialLR(o, 0.93), lambda o: S.ExponentialLR(o, 0.93)),
    "cosine": (
        lambda o: T.CosineAnnealingLR(o, 30, eta_min=0.01),
        lambda o: S.CosineAnnealingLR(o, 30, 0.01),
    ),
    "cosine_full_run": (lambda o: T.CosineAnnealingLR(o, EPOCHS), lambda o: S.CosineAnnealingLR(o, EPOCHS)),
    "cosine_warmup": (
        lambda o: T.SequentialLR(
            o,
            [T.LinearLR(o, start_factor=1 / 6, total_iters=5), T.CosineAnnealingLR(o, 25, eta_min=0.01)],
            [5],
        ),
        lambda o: S.CosineAnnealingLR(o, 30, eta_min=0.01, warmup_epochs=5),
    ),
    "step_warmup": (
        lambda o: T.SequentialLR(
            o, [T.LinearLR(o, start_factor=1 / 4, total_iters=3), T.StepLR(o, 5, 0.5)], [3]
        ),
        lambda o: S.StepLR(o, 5, 0.5, warmup_epochs=3),
    ),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's SequentialLR deprecation chatter
@pytest.mark.parametrize("case", list(EPOCH_CASES))
def test_epoch_schedules_match_torch(case):
    make_torch, make_ours = EPOCH_CASES[case]
    ref, ours = _torch_rates(make_torch), _our_rates(make_ours)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert len(set(ref)) > 2  # the rate really changes


def _plateau_metrics():
    rng = np.random.default_rng(0)
    return [1.0 / (1 + e) if e < 20 else 0.05 + 0.001 * float(rng.random()) for e in range(EPOCHS)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 3, "cooldown": 2, "factor": 0.5, "min_lr": 0.01},
        {"patience": 0, "threshold": 0.0},
        {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 2},
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = _plateau_metrics()
    ref = _torch_rates(lambda o: T.ReduceLROnPlateau(o, **kwargs), metrics)
    ours = _our_rates(lambda o: S.ReduceLROnPlateau(o, **kwargs), metrics)
    assert ours == ref
    assert len(set(ref)) > 1


def test_constant_and_warmup():
    assert _our_rates(lambda o: S.Constant(o)) == [0.5] * EPOCHS
    rates = _our_rates(lambda o: S.Constant(o, warmup_epochs=4))
    assert rates[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert rates[5:] == [0.5] * (EPOCHS - 5)


@pytest.mark.parametrize("name", S.SCHEDULES)
def test_make_schedule_and_history_records_the_rate(blobs, name):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], seed=0, dropout=0.0)
    opt = optim.SGD(lr=0.2)
    schedule = S.make_schedule(name, opt, epochs=12)
    trainer = xpnet.Trainer(net, optimizer=opt, batch_size=32, schedule=schedule, seed=0)
    history = trainer.fit(X, y, validation_data=(X[:40], y[:40]), epochs=12)
    if name == "plateau":  # driven by the validation loss, which improves throughout here
        expected = [0.2] * 12
    else:
        expected = _our_rates(lambda o: S.make_schedule(name, o, epochs=12), base=0.2)[:12]
    assert history.lr == pytest.approx(expected, rel=1e-12)
    if name in ("step", "exponential", "cosine"):
        assert history.lr[-1] < 0.2 * 0.5
    if name == "cosine":
        assert history.lr[-1] == pytest.approx(0.2 * (1 + math.cos(math.pi * 11 / 12)) / 2)


def test_plateau_driven_by_validation_loss(blobs):
    """The Trainer feeds the validation loss: a stalled one cuts the rate."""
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], seed=0, dropout=0.0)
    opt = optim.SGD(lr=1e-6)  # so small that nothing improves past the threshold
    schedule = S.ReduceLROnPlateau(opt, patience=2, factor=0.5, threshold=0.01)
    history = xpnet.Trainer(net, optimizer=opt, schedule=schedule, batch_size=None).fit(
        X, y, validation_data=(X, y), epochs=8
    )
    assert history.lr[:4] == [1e-6] * 4
    assert history.lr[4] == pytest.approx(5e-7)
    assert history.lr[-1] < history.lr[4]


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.StepLR(o, 4, 0.5, warmup_epochs=2),
        lambda o: S.CosineAnnealingLR(o, 20, 0.001, warmup_epochs=3),
        lambda o: S.ReduceLROnPlateau(o, patience=1, cooldown=1, factor=0.5),
    ],
)
def test_state_dict_round_trip_through_json(make):
    metrics = _plateau_metrics()
    opt_a = optim.Adam(lr=0.1)
    sched_a = make(opt_a)
    for e in range(9):
        sched_a.step(metrics[e])
    state = json.loads(json.dumps(sched_a.state_dict()))
    opt_b = optim.Adam(lr=0.1)
    sched_b = make(opt_b)
    sched_b.load_state_dict(state)
    assert opt_b.lr == opt_a.lr
    for e in range(9, 30):
        sched_a.step(metrics[e])
        sched_b.step(metrics[e])
        assert opt_b.lr == opt_a.lr


def test_load_state_dict_rejects_other_schedules():
    state = S.StepLR(optim.SGD(lr=0.1), 5).state_dict()
    with pytest.raises(ValueError, match="schedule state is for StepLR"):
        S.ExponentialLR(optim.SGD(lr=0.1), 0.9).load_state_dict(state)
    with pytest.raises(ValueError, match="settings"):
        S.StepLR(optim.SGD(lr=0.1), 6).load_state_dict(state)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: S.StepLR(o, 0), ValueError, "step_size"),
        (lambda o: S.StepLR(o, 2.5), TypeError, "step_size"),
        (lambda o: S.StepLR(o, 5, gamma=-0.1), ValueError, "gamma"),
        (lambda o: S.ExponentialLR(o, 0.0), ValueError, "gamma"),
        (lambda o: S.CosineAnnealingLR(o, 0), ValueError, "T_max"),
        (lambda o: S.CosineAnnealingLR(o, 10, eta_min=-1.0), ValueError, "eta_min"),
        (lambda o: S.CosineAnnealingLR(o, 10, warmup_epochs=10), ValueError, "warmup_epochs"),
        (lambda o: S.Constant(o, warmup_epochs=-1), ValueError, "warmup_epochs"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
        (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
        (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
        (lambda o: S.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
        (lambda o: S.make_schedule("linear", o, 10), ValueError, "schedule='linear' is unknown"),
        (lambda o: S.make_schedule("plateau", o, 10, warmup_epochs=2), ValueError, "warmup_epochs"),
        (lambda o: S.StepLR("sgd", 5), TypeError, "optimizer"),
    ],
)
def test_bad_schedule_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make(optim.SGD(lr=0.1))


def test_plateau_needs_a_metric():
    with pytest.raises(ValueError, match="metric"):
        S.ReduceLROnPlateau(optim.SGD(lr=0.1)).step()


@pytest.mark.parametrize(
    "flags, first_lrs",
    [
        (["--schedule", "step", "--step-size", "2", "--gamma", "0.5", "--lr", "0.1"], [0.1, 0.1, 0.05, 0.05]),
        (["--schedule", "exponential", "--gamma", "0.5", "--lr", "0.1"], [0.1, 0.05, 0.025, 0.0125]),
        (["--schedule", "constant", "--warmup-epochs", "3", "--lr", "0.1"], [0.025, 0.05, 0.075, 0.1]),
        # cosine: Adam's default peak rises to 1e-2, warmed up over epochs // 10 = 1 epoch
        (["--schedule", "cosine", "--epochs", "10"], [0.005, 0.01, 0.01 * (1 + math.cos(math.pi / 9)) / 2]),
    ],
)
def test_cli_schedule_flags(monkeypatch, flags, first_lrs):
    from xpnet import cli

    seen = {}
    real_fit = xpnet.Trainer.fit

    def spy(self, *args, **kwargs):
        seen["history"] = real_fit(self, *args, **kwargs)
        return seen["history"]

    monkeypatch.setattr(xpnet.Trainer, "fit", spy)
    argv = [
        "train",
        "--dataset",
        "iris",
        "--epochs",
        "4",
        "--hidden",
        "8",
        "--log-every",
        "0",
        "--json",
        *flags,
    ]
    assert cli.main(argv) == 0
    assert seen["history"].lr[: len(first_lrs)] == pytest.approx(first_lrs, rel=1e-12)


def test_cli_plateau_and_bad_schedule_flags(capsys, monkeypatch):
    from xpnet import cli

    # every epoch a bad one: with patience 0 each of the 3 epochs multiplies the rate by --gamma
    monkeypatch.setattr(S.ReduceLROnPlateau, "_is_better", lambda self, value: False)
    argv = ["train", "--dataset", "iris", "--epochs", "3", "--hidden", "8", "--json"]
    assert cli.main([*argv, "--schedule", "plateau", "--schedule-patience", "0", "--gamma", "0.5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schedule"] == "plateau" and result["final_lr"] <= 1e-3
    assert result["final_lr"] == pytest.approx(1e-3 * 0.5**3, rel=1e-6)  # --gamma 0.5, not 0.1
    assert cli.main([*argv, "--schedule", "cosine", "--warmup-epochs", "3"]) == 2
    assert "warmup_epochs=3 must be smaller than T_max=3" in capsys.readouterr().err
    assert cli.main([*argv, "--schedule", "step", "--step-size", "0"]) == 2
    assert "step_size" in capsys.readouterr().err
