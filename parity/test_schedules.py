"""Every learning-rate schedule, epoch by epoch, against torch.optim.lr_scheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpnet
from xpnet import schedules as S  # xpnet's own module: an import error fails, never skips

torch = pytest.importorskip("torch", reason="the parity suite compares with PyTorch: pip install torch")
LR = torch.optim.lr_scheduler
BASE = 0.1


def _pair_of_optimizers():
    param = torch.zeros(1, requires_grad=True)
    return xpnet.optim.SGD(lr=BASE), torch.optim.SGD([param], lr=BASE)


def _run(xp_sched, xp_opt, t_sched, t_opt, epochs, metrics=None):
    """The rate of each epoch, as the Trainer sees it: read, train, then step the schedule."""
    ours, theirs = [], []
    for epoch in range(epochs):
        ours.append(xp_opt.lr)
        theirs.append(t_opt.param_groups[0]["lr"])
        metric = None if metrics is None else metrics[epoch]
        xp_sched.step(metric)
        t_opt.step()  # torch warns if the scheduler steps before the optimizer ever has
        if metric is None:
            t_sched.step()
        else:
            t_sched.step(metric)
    return np.array(ours), np.array(theirs)


EPOCH_SCHEDULES = {
    "step-7-0.5": (
        lambda o: S.StepLR(o, step_size=7, gamma=0.5),
        lambda o: LR.StepLR(o, step_size=7, gamma=0.5),
    ),
    "step-1-default-gamma": (lambda o: S.StepLR(o, step_size=1), lambda o: LR.StepLR(o, step_size=1)),
    "exponential-0.9": (lambda o: S.ExponentialLR(o, gamma=0.9), lambda o: LR.ExponentialLR(o, gamma=0.9)),
    "cosine-20": (lambda o: S.CosineAnnealingLR(o, T_max=20), lambda o: LR.CosineAnnealingLR(o, T_max=20)),
    "cosine-15-eta_min": (
        lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.01),
        lambda o: LR.CosineAnnealingLR(o, T_max=15, eta_min=0.01),
    ),
    # warm-up w epochs, then cosine over T_max - w: torch's LinearLR followed by CosineAnnealingLR
    "cosine-20-warmup-4": (
        lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001, warmup_epochs=4),
        lambda o: LR.SequentialLR(
            o,
            [
                LR.LinearLR(o, start_factor=1 / 5, end_factor=1.0, total_iters=4),
                LR.CosineAnnealingLR(o, T_max=16, eta_min=0.001),
            ],
            milestones=[4],
        ),
    ),
    "step-5-warmup-3": (
        lambda o: S.StepLR(o, step_size=5, gamma=0.3, warmup_epochs=3),
        lambda o: LR.SequentialLR(
            o,
            [
                LR.LinearLR(o, start_factor=1 / 4, end_factor=1.0, total_iters=3),
                LR.StepLR(o, step_size=5, gamma=0.3),
            ],
            milestones=[3],
        ),
    ),
    "constant": (lambda o: S.make_schedule("constant", o, epochs=30), lambda o: LR.ConstantLR(o, factor=1.0)),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # SequentialLR's own deprecation chatter
@pytest.mark.parametrize("name", list(EPOCH_SCHEDULES))
def test_epoch_schedule_matches_torch(name, check):
    make_ours, make_theirs = EPOCH_SCHEDULES[name]
    opt, t_opt = _pair_of_optimizers()
    ours, theirs = _run(make_ours(opt), opt, make_theirs(t_opt), t_opt, epochs=45)  # past T_max too
    check(f"schedule {name.split('-')[0]}", ours, theirs, rtol=1e-12, atol=1e-15)


# a validation-loss curve with improvements, small wiggles below the threshold, and plateaus
METRICS = list(
    np.concatenate(
        [
            np.linspace(1.0, 0.6, 8),
            np.full(6, 0.6),
            0.6 * (1 - 5e-5) * np.ones(5),
            np.linspace(0.59, 0.5, 5),
            0.5 + 0.01 * np.sin(np.arange(14)),
            np.full(12, 0.49),
        ]
    )
)
PLATEAU = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.3, cooldown=2, min_lr=0.004),
    dict(patience=3, threshold=0.02, threshold_mode="abs"),
    dict(patience=0, factor=0.5, threshold=0.0),
]


@pytest.mark.parametrize(
    "kwargs", PLATEAU, ids=[",".join(f"{k}={v}" for k, v in p.items()) or "defaults" for p in PLATEAU]
)
@pytest.mark.parametrize("mode", ["min", "max"])
def test_reduce_on_plateau_matches_torch(kwargs, mode, check):
    metrics = METRICS if mode == "min" else [-m for m in METRICS]
    opt, t_opt = _pair_of_optimizers()
    ours, theirs = _run(
        S.ReduceLROnPlateau(opt, mode=mode, **kwargs),
        opt,
        LR.ReduceLROnPlateau(t_opt, mode=mode, **kwargs),
        t_opt,
        len(metrics),
        metrics,
    )
    check("schedule plateau", ours, theirs, rtol=1e-12, atol=1e-15)
    if kwargs:
        assert ours[-1] < BASE  # the curve really plateaus, so the rate was cut


def test_make_schedule_defaults_match_torch(check):
    epochs = 30
    cases = {
        "step": lambda o: LR.StepLR(o, step_size=10, gamma=0.1),
        "exponential": lambda o: LR.ExponentialLR(o, gamma=0.01 ** (1 / (epochs - 1))),
        "cosine": lambda o: LR.CosineAnnealingLR(o, T_max=epochs),
    }
    for name, make_theirs in cases.items():
        opt, t_opt = _pair_of_optimizers()
        ours, theirs = _run(S.make_schedule(name, opt, epochs=epochs), opt, make_theirs(t_opt), t_opt, epochs)
        check(f"schedule {name}", ours, theirs, rtol=1e-12, atol=1e-15, msg="make_schedule")
    assert math.isclose(ours[0], BASE) and ours[-1] < 0.01 * BASE


def test_schedule_state_round_trip_continues_like_torch(check):
    opt, t_opt = _pair_of_optimizers()
    sched, t_sched = (
        S.CosineAnnealingLR(opt, T_max=12, warmup_epochs=2),
        LR.CosineAnnealingLR(t_opt, T_max=10),
    )
    for _ in range(5):
        sched.step()
    opt2 = xpnet.optim.SGD(lr=BASE)
    restored = S.CosineAnnealingLR(opt2, T_max=12, warmup_epochs=2)
    restored.load_state_dict(sched.state_dict())
    assert opt2.lr == opt.lr
    ours = []
    for _ in range(8):
        restored.step()
        ours.append(opt2.lr)
    theirs = []
    for _ in range(3):  # torch's cosine without the two warm-up epochs: 5 - 2 steps in
        t_opt.step()
        t_sched.step()
    for _ in range(8):
        t_opt.step()
        t_sched.step()
        theirs.append(t_opt.param_groups[0]["lr"])
    check("schedule cosine", ours, theirs, rtol=1e-12, atol=1e-15, msg="after load_state_dict")


@pytest.mark.parametrize("which", ["cosine-warmup", "plateau"])
def test_trainer_with_schedule_matches_torch_loop(which, check, torch_ref):
    """The Trainer steps the schedule once per epoch with the validation loss, as a torch loop does."""
    rng = np.random.default_rng(0)
    X, Xv = rng.standard_normal((60, 4)), rng.standard_normal((30, 4))
    y, yv = (X[:, 0] + X[:, 1] > 0).astype(int), (Xv[:, 0] + Xv[:, 1] > 0).astype(int)
    net = xpnet.MLP([4, 8, 2], activation="tanh", init="glorot_uniform", dtype="float64", seed=2, dropout=0.0)
    model = torch_ref.MLP(net, torch.device("cpu"))
    opt = xpnet.optim.Adam(lr=0.05)
    t_opt = torch.optim.Adam(model.parameters(), lr=0.05)
    if which == "plateau":
        sched, t_sched = (
            S.ReduceLROnPlateau(opt, patience=1, factor=0.5),
            LR.ReduceLROnPlateau(t_opt, patience=1, factor=0.5),
        )
    else:
        sched = S.CosineAnnealingLR(opt, T_max=30, warmup_epochs=3)
        t_sched = LR.SequentialLR(
            t_opt,
            [LR.LinearLR(t_opt, start_factor=0.25, total_iters=3), LR.CosineAnnealingLR(t_opt, T_max=27)],
            milestones=[3],
        )
    history = xpnet.Trainer(net, optimizer=opt, batch_size=20, shuffle=False, schedule=sched).fit(
        X, y, validation_data=(Xv, yv), epochs=30
    )

    Y, Yv = torch.tensor(np.eye(2)[y]), torch.tensor(np.eye(2)[yv])
    Xt, Xvt = torch.tensor(X), torch.tensor(Xv)
    lrs, val = [], []
    for _ in range(30):
        lrs.append(t_opt.param_groups[0]["lr"])
        for start in range(0, 60, 20):
            t_opt.zero_grad()
            torch.nn.functional.cross_entropy(
                model.logits(Xt[start : start + 20]), Y[start : start + 20]
            ).backward()
            t_opt.step()
        with torch.no_grad():
            val.append(torch.nn.functional.cross_entropy(model.logits(Xvt), Yv).item())
        if which == "plateau":
            t_sched.step(val[-1])
        else:
            t_sched.step()
    check(f"schedule in Trainer ({which}) lr", history.lr, lrs, rtol=1e-12, atol=1e-15)
    check(f"schedule in Trainer ({which}) val loss", history.val_loss, val, rtol=1e-9, atol=0)
    assert len(set(lrs)) > 3  # the schedule really moved the rate
