"""Tests that kill the mutants of xpnet/schedules.py that survived the suites (issue 12, tests/mutation/).

The torch comparisons in tests/test_schedules.py skip without torch; these pin the same rates as
closed forms or as numbers recorded from ``torch.optim.lr_scheduler`` (torch 2.13, printed by
stepping torch's scheduler with the same arguments and metrics), so they run everywhere.
"""

from __future__ import annotations

import math

import pytest

from xpnet import optim
from xpnet import schedules as S


def _rates(schedule, epochs, metrics=None):
    """The optimizer's rate for each of ``epochs`` epochs (the first is the rate once built)."""
    out = [schedule.optimizer.lr]
    for i in range(epochs - 1):
        schedule.step(None if metrics is None else metrics[i])
        out.append(schedule.optimizer.lr)
    return out


def _runtime(name: str) -> str:
    """``name`` as a fresh, non-interned string (what parsing a command line or a file gives)."""
    return "".join(list(name))


def test_warm_up_ramps_linearly_and_hands_over_the_exact_base_rate():
    rates = _rates(S.Constant(optim.SGD(lr=0.1), warmup_epochs=2), 4)
    assert rates[:2] == pytest.approx([0.1 / 3, 0.2 / 3], rel=1e-15)
    assert rates[2:] == [0.1, 0.1]  # exactly the base rate once the warm-up is over


def test_step_schedule_after_a_warm_up():
    # one warm-up epoch (0.3/2), then StepLR(step_size=2, gamma=0.5) from its own epoch 0
    rates = _rates(S.StepLR(optim.SGD(lr=0.3), step_size=2, gamma=0.5, warmup_epochs=1), 7)
    assert rates == pytest.approx([0.15, 0.3, 0.3, 0.15, 0.15, 0.075, 0.075], rel=1e-15)


def test_cosine_schedule_after_a_warm_up_reaches_eta_min_at_t_max():
    # torch's CosineAnnealingLR(T_max=4) on 0.3, after one warm-up epoch (T_max counts it)
    torch_rates = [0.3, 0.2560660171779821, 0.15, 0.04393398282201788, 0.0]
    rates = _rates(S.CosineAnnealingLR(optim.SGD(lr=0.3), T_max=5, warmup_epochs=1), 6)
    assert rates[0] == pytest.approx(0.15)
    assert rates[1:] == pytest.approx(torch_rates, abs=1e-15)


@pytest.mark.parametrize(
    "make, settings",
    [
        (lambda o: S.StepLR(o, step_size=2), {"step_size": 2, "gamma": 0.1, "warmup_epochs": 0}),
        (lambda o: S.CosineAnnealingLR(o, T_max=3), {"T_max": 3, "eta_min": 0.0, "warmup_epochs": 0}),
        (
            S.ReduceLROnPlateau,  # torch's defaults
            {
                "mode": "min",
                "factor": 0.1,
                "patience": 10,
                "threshold": 1e-4,
                "threshold_mode": "rel",
                "cooldown": 0,
                "min_lr": 0.0,
                "eps": 1e-8,
            },
        ),
    ],
)
def test_defaults_are_torchs(make, settings):
    state = make(optim.SGD(lr=0.1)).state_dict()
    assert state["settings"] == settings
    if "best" in state:
        assert (state["best"], state["num_bad_epochs"], state["cooldown_counter"]) == (math.inf, 0, 0)


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.StepLR(o, step_size=0),
        lambda o: S.CosineAnnealingLR(o, T_max=3, warmup_epochs=4),
        lambda o: S.ReduceLROnPlateau(o, factor=1.5),
        lambda o: S.ReduceLROnPlateau(o, patience=-1),
        lambda o: S.ReduceLROnPlateau(o, cooldown=-1),
    ],
)
def test_out_of_range_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make(optim.SGD(lr=0.1))


def test_smallest_allowed_arguments_are_accepted():
    S.StepLR(optim.SGD(lr=0.1), step_size=1)
    plateau = S.ReduceLROnPlateau(optim.SGD(lr=0.1), patience=0, cooldown=0, threshold=0.0)
    assert (plateau.patience, plateau.cooldown, plateau.threshold) == (0, 0, 0.0)


def test_a_state_of_another_schedule_type_is_refused_either_way():
    constant, exponential = S.Constant(optim.SGD(lr=0.1)), S.ExponentialLR(optim.SGD(lr=0.1), gamma=0.5)
    with pytest.raises(ValueError, match="schedule state is for"):
        constant.load_state_dict(exponential.state_dict())
    with pytest.raises(ValueError, match="schedule state is for"):
        exponential.load_state_dict(constant.state_dict())


METRICS = [1.0, 0.95, 0.89, 0.9, 0.8, 0.85, 0.85, 0.7, 0.72, 0.71, 0.5, 0.6]


@pytest.mark.parametrize(
    "kwargs, torch_rates",
    [
        (
            dict(mode="min", factor=0.5, patience=1, threshold=0.1, threshold_mode="rel"),
            [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25],
        ),
        (  # cooldown after each cut
            dict(mode="max", factor=0.5, patience=0, threshold=0.1, threshold_mode="abs", cooldown=2),
            [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125, 0.0625],
        ),
        (  # a cut of exactly eps is not made
            dict(mode="min", factor=0.75, patience=0, threshold=0.0, threshold_mode="abs", eps=0.25),
            [1.0] * 12,
        ),
        (  # a cut smaller than eps is not made
            dict(mode="min", factor=0.8, patience=0, threshold=0.0, eps=0.25),
            [1.0] * 12,
        ),
        (  # floored at min_lr
            dict(
                mode="max", factor=0.5, patience=0, threshold=0.1, threshold_mode="rel", min_lr=0.3, eps=0.15
            ),
            [1.0, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
        ),
    ],
)
def test_plateau_rates_equal_torchs(kwargs, torch_rates):
    metrics = METRICS if kwargs["mode"] == "min" else [2.0 - m for m in METRICS]
    kwargs = {**kwargs, "mode": _runtime(kwargs["mode"])}
    if "threshold_mode" in kwargs:
        kwargs["threshold_mode"] = _runtime(kwargs["threshold_mode"])
    plateau = S.ReduceLROnPlateau(optim.SGD(lr=1.0), **kwargs)
    rates = []
    for m in metrics:  # torch: optimizer.step(); scheduler.step(metric); read the rate
        plateau.step(m)
        rates.append(plateau.optimizer.lr)
    assert rates == pytest.approx(torch_rates, rel=1e-15)
    assert plateau.state_dict()["last_epoch"] == len(metrics)


def test_plateau_in_max_mode_counts_the_first_metric_as_an_improvement():
    plateau = S.ReduceLROnPlateau(optim.SGD(lr=1.0), mode=_runtime("max"), patience=0)
    plateau.step(-5.0)
    assert (plateau.best, plateau.num_bad_epochs, plateau.optimizer.lr) == (-5.0, 0, 1.0)


def test_make_schedule_step_size_and_exponential_gamma_defaults():
    step = S.make_schedule("step", optim.SGD(lr=0.1), epochs=12, warmup_epochs=3)
    assert step.step_size == 3  # a third of the 9 epochs after the warm-up
    assert S.make_schedule("step", optim.SGD(lr=0.1), epochs=2).step_size == 1
    expo = S.make_schedule("exponential", optim.SGD(lr=1.0), epochs=11, warmup_epochs=2)
    assert expo.gamma == pytest.approx(0.01 ** (1 / 8), rel=1e-15)  # 1 % of the base rate at the last epoch
    assert _rates(expo, 11)[-1] == pytest.approx(0.01, rel=1e-12)
    assert S.make_schedule("exponential", optim.SGD(lr=1.0), epochs=1).gamma == pytest.approx(0.01)
    plateau = S.make_schedule("plateau", optim.SGD(lr=1.0), epochs=5)
    assert (plateau.patience, plateau.factor) == (10, 0.1)


@pytest.mark.parametrize("name, cls", [("step", S.StepLR), ("cosine", S.CosineAnnealingLR)])
def test_make_schedule_with_a_name_read_at_run_time(name, cls):
    assert type(S.make_schedule(_runtime(name), optim.SGD(lr=0.1), epochs=9)) is cls
