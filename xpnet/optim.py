"""Optimizers with ``torch.optim``'s names, defaults and update rules, step for step.

Each optimizer holds hyperparameters and per-parameter state (momentum buffers, moments,
on the device, keyed by parameter name) and updates a dict of parameter arrays in place
through its backend op (``Ops.sgd_update``, ``adam_update``, ``rmsprop_update``). Weight
decay is added to the (already clipped) gradient, as torch does; ``AdamW`` decays the
weights directly instead.
"""

from __future__ import annotations

from typing import Any

from .backend import backend_of
from .validation import check_positive, to_host

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")


def _check_beta(value: Any, name: str) -> float:
    value = check_positive(value, name, allow_zero=True)
    if value >= 1.0:
        raise ValueError(f"{name}={value!r} is not allowed; it must be in [0, 1)")
    return value


class Optimizer:
    """Base class: holds ``lr`` (read by schedules each epoch) and per-parameter state."""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = check_positive(lr, "lr")
        self.weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
        self.state: dict[str, dict[str, Any]] = {}
        self.steps = 0

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (current ``lr`` included)."""
        raise NotImplementedError

    def step(self, params: dict[str, Any], grads: dict[str, Any], ops=None) -> None:
        """Update every array in ``params`` in place from ``grads`` (same keys) with the backend
        ``ops`` (found from the arrays when not given)."""
        self.steps += 1
        if ops is None:
            ops = _ops_for(next(iter(params.values())))
        for key, p in params.items():
            self._update(ops, p, grads[key], self.state.setdefault(key, {}))

    def _update(self, ops, p, g, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, step count and state arrays (references), for checkpoints."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "steps": self.steps,
            "state": {k: dict(v) for k, v in self.state.items()},
        }

    def load_state_dict(self, state: dict[str, Any], like: dict[str, Any] | None = None) -> None:
        """Restore from :meth:`state_dict`; arrays are moved next to ``like``'s if given."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')}, not {type(self).__name__}")
        self.lr = float(state["hyperparameters"]["lr"])
        self.steps = int(state["steps"])
        self.state = {}
        for key, entries in state["state"].items():
            ref = None if like is None else like[key]
            self.state[key] = {
                name: _copy_like(value, ref) if hasattr(value, "shape") else value
                for name, value in entries.items()
            }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


_OPS: dict[Any, Any] = {}


def _ops_for(p):
    """The backend of array ``p``, memoized by array type and device (found once, not per step)."""
    key = (type(p), str(getattr(p, "device", "")))
    if key not in _OPS:
        _OPS[key] = backend_of(p)
    return _OPS[key]


def _copy_like(value, ref):
    """``value`` (any array) as a fresh array of ``ref``'s backend, dtype and device (or its own)."""
    if ref is None:
        return backend_of(value).xp.asarray(value, copy=True)
    be = _ops_for(ref)
    return be.xp.asarray(to_host(value), dtype=ref.dtype, device=be.device, copy=True)


class SGD(Optimizer):
    """``torch.optim.SGD``: plain, heavy-ball momentum (with dampening) or Nesterov."""

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, weight_decay)
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.dampening = check_positive(dampening, "dampening", allow_zero=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0")

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, ops, p, g, state):
        ops.sgd_update(p, g, state, self.lr, self.momentum, self.dampening, self.nesterov, self.weight_decay)


class Adam(Optimizer):
    """``torch.optim.Adam`` (L2 penalty added to the gradient), with optional AMSGrad."""

    decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (_check_beta(betas[0], "betas[0]"), _check_beta(betas[1], "betas[1]"))
        self.eps = check_positive(eps, "eps")
        self.amsgrad = bool(amsgrad)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }

    def _update(self, ops, p, g, state):
        ops.adam_update(
            p,
            g,
            state,
            self.lr,
            self.steps,
            self.betas,
            self.eps,
            self.weight_decay,
            self.decoupled,
            self.amsgrad,
        )


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """``torch.optim.RMSprop`` (non-centered or centered, optional momentum)."""

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ):
        super().__init__(lr, weight_decay)
        self.alpha = _check_beta(alpha, "alpha")
        self.eps = check_positive(eps, "eps")
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.centered = bool(centered)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def _update(self, ops, p, g, state):
        ops.rmsprop_update(
            p, g, state, self.lr, self.alpha, self.eps, self.weight_decay, self.momentum, self.centered
        )


def make_optimizer(
    name: str, lr: float | None = None, momentum: float = 0.9, weight_decay: float = 0.0
) -> Optimizer:
    """Build an optimizer from a CLI-style name (sgd, momentum, nesterov, adam, adamw, rmsprop)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
    if name in ("sgd", "momentum", "nesterov"):
        return SGD(
            lr=0.01 if lr is None else lr,
            momentum=0.0 if name == "sgd" else momentum,
            nesterov=name == "nesterov",
            weight_decay=weight_decay,
        )
    if name == "rmsprop":
        return RMSprop(lr=1e-2 if lr is None else lr, weight_decay=weight_decay)
    cls = Adam if name == "adam" else AdamW
    kwargs = {} if name == "adamw" and weight_decay == 0.0 else {"weight_decay": weight_decay}
    return cls(lr=1e-3 if lr is None else lr, **kwargs)
