"""Optimizers: trajectories equal torch.optim's step for step, state round-trips, bad hyperparameters."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import xpnet
from xpnet import optim

try:  # optional: only the comparisons with torch need it (they skip without it)
    import torch
except ImportError:
    torch = None

# (xpnet class, torch class, shared keyword arguments)
VARIANTS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "momentum_dampening": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    "nesterov": ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "adam": ("Adam", {"lr": 0.01, "betas": (0.8, 0.95)}),
    "adam_amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.01, "amsgrad": True, "eps": 1e-6}),
    "rmsprop": ("RMSprop", {"lr": 0.005}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.002, "alpha": 0.9, "momentum": 0.7}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.002, "centered": True, "momentum": 0.5}),
}
# (clip, weight_decay): clipping thresholds are small enough to bite on this problem
REGIMES = {
    "plain": (None, 0.0),
    "weight_decay": (None, 0.05),
    "global_norm+wd": (("global_norm", 0.3), 0.05),
    "norm": (("norm", 0.2), 0.0),
    "value": (("value", 0.02), 0.0),
}
STEPS = 50


def _problem():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    y = rng.integers(0, 3, 40)
    return X, y


def _torch_clip(params, clip):
    if clip is None:
        return
    kind, t = clip
    if kind == "global_norm":
        torch.nn.utils.clip_grad_norm_(params, t)
    elif kind == "value":
        torch.nn.utils.clip_grad_value_(params, t)
    else:  # per-tensor norm
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], t)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _kwargs(variant, regime):
    name, kwargs = VARIANTS[variant]
    clip, wd = REGIMES[regime]
    kwargs = dict(kwargs)
    if wd or name != "AdamW":  # AdamW keeps its default weight decay in the plain regimes
        kwargs["weight_decay"] = wd
    return name, kwargs, clip


def _net(backend):
    return xpnet.MLP([5, 7, 6, 3], activation="tanh", dtype="float64", backend=backend, seed=3, dropout=0.0)


@functools.cache
def _torch_trajectory(variant, regime, steps=STEPS):
    """Parameters after each step of torch autograd + torch.optim on the same tanh MLP."""
    pytest.importorskip("torch")
    name, kwargs, clip = _kwargs(variant, regime)
    X, y = _problem()
    net = _net("numpy")  # the same seed gives the same start on every backend
    keys = list(net.params)
    tparams = [torch.tensor(net.params[k], dtype=torch.float64, requires_grad=True) for k in keys]
    ref = getattr(torch.optim, name)(tparams, **kwargs)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    out = []
    for _ in range(steps):
        ref.zero_grad()
        h = Xt
        for i in range(0, len(tparams) - 2, 2):
            h = torch.tanh(h @ tparams[i] + tparams[i + 1])
        z = h @ tparams[-2] + tparams[-1]
        torch.nn.functional.cross_entropy(z, yt).backward()
        _torch_clip(tparams, clip)
        ref.step()
        out.append({k: t.detach().numpy().copy() for k, t in zip(keys, tparams, strict=True)})
    return out


def _xpnet_trajectory(backend, variant, regime, steps=STEPS):
    """Yield xpnet's parameters (host copies) after each step of the same training."""
    name, kwargs, clip = _kwargs(variant, regime)
    X, y = _problem()
    net = _net(backend)
    mine = getattr(optim, name)(**kwargs)
    for _ in range(steps):
        _, grads = net.value_and_grad(X, y, loss="categorical_crossentropy")
        if clip is not None:
            grads = net.backend.clip(grads, *clip)
        mine.step(net.params, grads)
        yield {k: net.backend.to_numpy(v) for k, v in net.params.items()}


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_trajectory_matches_torch(backend, variant, regime):
    reference = _torch_trajectory(variant, regime)
    start = {k: v.copy() for k, v in _net("numpy").params.items()}
    for step, (mine, ref) in enumerate(
        zip(_xpnet_trajectory(backend, variant, regime), reference, strict=True), start=1
    ):
        for key in mine:
            np.testing.assert_allclose(
                mine[key], ref[key], rtol=0, atol=1e-10, err_msg=f"{key} at step {step}"
            )
    assert step == STEPS
    moved = max(float(np.abs(mine[k] - start[k]).max()) for k in mine)
    assert moved > 1e-3  # the trajectory really went somewhere


@pytest.mark.parametrize(
    "variant", ["momentum_dampening", "nesterov", "adam_amsgrad", "adamw", "rmsprop_centered"]
)
def test_state_dict_resumes_exactly(backend, variant):
    """Stop half-way, carry the state through host NumPy arrays, resume: same parameters bit for bit."""
    name, kwargs = VARIANTS[variant]
    X, y = _problem()

    def fresh():
        net = xpnet.MLP([5, 8, 3], dtype="float64", backend=backend, seed=0, dropout=0.0)
        return net, getattr(optim, name)(**kwargs)

    net_a, opt_a = fresh()
    for _ in range(20):
        opt_a.step(net_a.params, net_a.value_and_grad(X, y)[1])

    net_b, opt_b = fresh()
    for _ in range(10):
        opt_b.step(net_b.params, net_b.value_and_grad(X, y)[1])
    saved = opt_b.state_dict()
    host = {k: {n: net_b.backend.to_numpy(v).copy() for n, v in e.items()} for k, e in saved["state"].items()}
    saved["state"] = host
    net_c, opt_c = fresh()
    net_c.load_state_dict({k: net_b.backend.to_numpy(v) for k, v in net_b.state_dict().items()})
    opt_c.load_state_dict(saved, like=net_c.params)
    assert opt_c.steps == 10
    for _ in range(10):
        opt_c.step(net_c.params, net_c.value_and_grad(X, y)[1])
    for key in net_a.params:
        assert np.array_equal(
            net_a.backend.to_numpy(net_a.params[key]), net_c.backend.to_numpy(net_c.params[key])
        )


def test_state_lives_on_the_device_and_updates_in_place(backend):
    net = xpnet.MLP([5, 8, 3], backend=backend, seed=0, dropout=0.0)
    X, y = _problem()
    before = {k: id(v) for k, v in net.params.items()}
    opt = optim.Adam(lr=0.01)
    opt.step(net.params, net.value_and_grad(X, y)[1])
    assert {k: id(v) for k, v in net.params.items()} == before
    for entries in opt.state.values():
        for value in entries.values():
            assert type(value) is type(net.params["dense0.weight"])
            assert value.device == net.params["dense0.weight"].device
            assert value.dtype == net.params["dense0.weight"].dtype


def test_load_state_dict_rejects_another_optimizer():
    with pytest.raises(ValueError, match="optimizer state is for SGD"):
        optim.Adam().load_state_dict(optim.SGD(lr=0.1).state_dict())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optim.SGD(lr=-0.1), "lr"),
        (lambda: optim.SGD(lr=0.0), "lr"),
        (lambda: optim.SGD(lr=float("nan")), "lr"),
        (lambda: optim.SGD(lr=0.1, momentum=-0.5), "momentum"),
        (lambda: optim.SGD(lr=0.1, dampening=-0.1), "dampening"),
        (lambda: optim.SGD(lr=0.1, weight_decay=-1e-4), "weight_decay"),
        (lambda: optim.SGD(lr=0.1, nesterov=True), "nesterov"),
        (lambda: optim.SGD(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
        (lambda: optim.Adam(lr=-1e-3), "lr"),
        (lambda: optim.Adam(betas=(1.0, 0.999)), r"betas\[0\]"),
        (lambda: optim.Adam(betas=(0.9, 1.5)), r"betas\[1\]"),
        (lambda: optim.Adam(betas=(-0.1, 0.999)), r"betas\[0\]"),
        (lambda: optim.Adam(eps=0.0), "eps"),
        (lambda: optim.Adam(eps=-1e-8), "eps"),
        (lambda: optim.AdamW(weight_decay=-0.01), "weight_decay"),
        (lambda: optim.AdamW(betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda: optim.RMSprop(alpha=1.0), "alpha"),
        (lambda: optim.RMSprop(eps=0.0), "eps"),
        (lambda: optim.RMSprop(momentum=-0.9), "momentum"),
        (lambda: optim.make_optimizer("adam", lr=-1.0), "lr"),
        (lambda: optim.make_optimizer("nesterov", momentum=0.0), "nesterov"),
        (lambda: optim.make_optimizer("lbfgs"), "optimizer='lbfgs' is unknown"),
    ],
)
def test_bad_hyperparameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [lambda: optim.SGD(lr="0.1"), lambda: optim.Adam(betas=0.9), lambda: optim.Adam(eps=None)],
)
def test_wrong_types_raise_type_error(make):
    with pytest.raises(TypeError):
        make()


@pytest.mark.parametrize(
    "name, cls, hyper",
    [
        ("sgd", optim.SGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
        ("momentum", optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": False}),
        ("nesterov", optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        ("adam", optim.Adam, {"lr": 1e-3, "weight_decay": 0.0}),
        ("adamw", optim.AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
        ("rmsprop", optim.RMSprop, {"lr": 1e-2}),
    ],
)
def test_make_optimizer_names_and_defaults(name, cls, hyper):
    opt = optim.make_optimizer(name)
    assert type(opt) is cls
    for key, value in hyper.items():
        assert opt.hyperparameters()[key] == value
