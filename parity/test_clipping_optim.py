"""Gradient clipping against torch.nn.utils, and every optimizer step for step against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet

torch = pytest.importorskip("torch", reason="the parity suite compares with PyTorch: pip install torch")

SHAPES = {"dense0.weight": (5, 7), "dense0.bias": (7,), "dense1.weight": (7, 3), "dense1.bias": (3,)}


def _grads(scale, seed=0):
    rng = np.random.default_rng(seed)
    return {k: scale * rng.standard_normal(s) for k, s in SHAPES.items()}


def _torch_params(pair, grads):
    params = []
    for g in grads.values():
        p = torch.zeros(g.shape, dtype=torch.float64, device=pair.device, requires_grad=True)
        p.grad = pair.tensor(g)
        params.append(p)
    return params


THRESHOLDS = [0.05, 0.5, 2.0, 1e3]  # from heavy clipping to none at all


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_clip_by_value_matches_clip_grad_value(threshold, pair, check):
    grads = _grads(1.0)
    clipped = pair.backend.clip(
        {k: pair.backend.asarray(g, "float64") for k, g in grads.items()}, "value", threshold
    )
    params = _torch_params(pair, grads)
    torch.nn.utils.clip_grad_value_(params, threshold)
    for (key, g), p in zip(clipped.items(), params, strict=True):
        check("clip value", pair.host(g), pair.host(p.grad), rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_clip_by_global_norm_matches_clip_grad_norm(threshold, pair, check):
    grads = _grads(1.0, seed=1)
    dev = {k: pair.backend.asarray(g, "float64") for k, g in grads.items()}
    clipped = pair.backend.clip(dev, "global_norm", threshold)
    params = _torch_params(pair, grads)
    total = torch.nn.utils.clip_grad_norm_(params, threshold)
    check("global norm", pair.host(pair.backend.global_norm(dev.values())), pair.host(total))
    for (key, g), p in zip(clipped.items(), params, strict=True):
        check("clip global_norm", pair.host(g), pair.host(p.grad), msg=key)
    after = np.sqrt(sum(np.sum(pair.host(g) ** 2) for g in clipped.values()))
    assert after <= threshold * (1 + 1e-12) or threshold > pair.host(total)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_clip_by_norm_per_tensor_matches_definition(threshold, pair, check):
    """Per tensor: g * min(1, t / (||g|| + 1e-6)), i.e. clip_grad_norm_ applied to each tensor alone."""
    grads = _grads(1.0, seed=2)
    clipped = pair.backend.clip(
        {k: pair.backend.asarray(g, "float64") for k, g in grads.items()}, "norm", threshold
    )
    for key, g in grads.items():
        norm = np.sqrt(np.sum(g * g))
        expected = g * min(1.0, threshold / (norm + 1e-6))
        check("clip norm (per tensor)", pair.host(clipped[key]), expected, msg=key)
        assert np.linalg.norm(pair.host(clipped[key])) <= threshold * (1 + 1e-12) or norm < threshold
        (p,) = _torch_params(pair, {key: g})
        torch.nn.utils.clip_grad_norm_([p], threshold)
        check("clip norm (per tensor)", pair.host(clipped[key]), pair.host(p.grad), msg=key)


# (xpnet optimizer, torch optimizer, kwargs shared by both): every option of every optimizer
OPTIMIZERS = [
    ("SGD", "SGD", dict(lr=0.1)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("Adam", "Adam", dict(lr=0.01)),
    ("Adam", "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", "Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", "AdamW", dict(lr=0.01)),
    ("AdamW", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", "RMSprop", dict(lr=0.01)),
    ("RMSprop", "RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", "RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", "RMSprop", dict(lr=0.005, momentum=0.5, centered=True)),
]
OPT_IDS = [f"{x}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for x, _, kw in OPTIMIZERS]


def _objective_grads(xp, params, targets):
    """Gradients of sum(log cosh(p - t)) + 0.05 * sum(p^2): nonlinear, so trajectories must match."""
    return {k: xp.tanh(p - targets[k]) + 0.1 * p for k, p in params.items()}


def _torch_objective(tparams, ttargets):
    return sum(
        torch.log(torch.cosh(p - t)).sum() + 0.05 * (p * p).sum()
        for p, t in zip(tparams, ttargets, strict=True)
    )


@pytest.mark.parametrize("xp_name,torch_name,kwargs", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_steps_match_torch_optim(xp_name, torch_name, kwargs, pair, check):
    b, xp = pair.backend, pair.backend.xp
    rng = np.random.default_rng(0)
    start = {k: 3 * rng.standard_normal(s) for k, s in SHAPES.items()}
    targets = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    params = {k: b.asarray(v, "float64") for k, v in start.items()}
    dev_targets = {k: b.asarray(v, "float64") for k, v in targets.items()}
    opt = getattr(xpnet.optim, xp_name)(**kwargs)

    tparams = [pair.tensor(v, requires_grad=True) for v in start.values()]
    topt = getattr(torch.optim, torch_name)(tparams, **kwargs)
    ttargets = [pair.tensor(v) for v in targets.values()]
    for step in range(25):
        if step == 15:  # a schedule changes lr between steps: both must use the new value
            opt.lr = kwargs["lr"] * 0.3
            for group in topt.param_groups:
                group["lr"] = kwargs["lr"] * 0.3
        opt.step(params, _objective_grads(xp, params, dev_targets))
        topt.zero_grad()
        _torch_objective(tparams, ttargets).backward()
        topt.step()
        for (key, p), tp in zip(params.items(), tparams, strict=True):
            check(
                f"optim {xp_name} step",
                pair.host(p),
                pair.host(tp),
                rtol=1e-11,
                atol=1e-13,
                msg=f"{key} step {step + 1}",
            )
    assert opt.steps == 25


STATE_NAMES = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg"}


@pytest.mark.parametrize("xp_name,torch_name,kwargs", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_state_matches_torch_state(xp_name, torch_name, kwargs, pair, check):
    """Momentum buffers and moments are torch's, and a state_dict round trip continues the run exactly."""
    b = pair.backend
    rng = np.random.default_rng(1)
    start = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s) for k, s in SHAPES.items()} for _ in range(6)]
    params = {k: b.asarray(v, "float64") for k, v in start.items()}
    opt = getattr(xpnet.optim, xp_name)(**kwargs)
    tparams = [pair.tensor(v, requires_grad=True) for v in start.values()]
    topt = getattr(torch.optim, torch_name)(tparams, **kwargs)
    for i, g in enumerate(grads):
        if i == 3:  # checkpoint and restore into a fresh optimizer mid-run
            fresh = getattr(xpnet.optim, xp_name)(**kwargs)
            fresh.load_state_dict(opt.state_dict(), like=params)
            opt = fresh
        opt.step(params, {k: b.asarray(v, "float64") for k, v in g.items()})
        for tp, v in zip(tparams, g.values(), strict=True):
            tp.grad = pair.tensor(v)
        topt.step()
    for (key, p), tp in zip(params.items(), tparams, strict=True):
        check(f"optim {xp_name} step", pair.host(p), pair.host(tp), rtol=1e-11, atol=1e-13, msg=key)
        tstate = topt.state[tp]
        names = set(opt.state[key]) & STATE_NAMES
        assert names == set(tstate) & STATE_NAMES, (names, set(tstate))
        for name in names:
            check(
                f"optim {xp_name} state",
                pair.host(opt.state[key][name]),
                pair.host(tstate[name]),
                rtol=1e-11,
                atol=1e-13,
                msg=f"{key} {name}",
            )
