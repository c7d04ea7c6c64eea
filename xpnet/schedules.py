"""Learning-rate schedules bound to an optimizer, matching ``torch.optim.lr_scheduler``.

Each schedule sets ``optimizer.lr`` when it is built (the rate of the first epoch) and
again on every ``step(metric=None)``, which the :class:`~xpnet.Trainer` calls once after
each epoch with the monitored loss (validation loss if there is validation data, else the
training loss). Epoch-driven schedules use closed forms that equal torch's per-epoch
values; an optional linear warm-up (``warmup_epochs=w``) ramps the rate through
``base * k / (w + 1)`` for ``k = 1..w`` before the schedule proper starts (torch's
``SequentialLR([LinearLR(start_factor=1/(w+1), total_iters=w), schedule], [w])``).
``state_dict()``/``load_state_dict()`` hold plain numbers only (JSON-ready, for checkpoints).
"""

from __future__ import annotations

import math
from typing import Any

from .optim import Optimizer
from .validation import check_int, check_positive

SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau")


class Schedule:
    """Base class: an epoch counter and the base rate, read from ``optimizer.lr`` when built."""

    def __init__(self, optimizer: Optimizer, warmup_epochs: int = 0):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an xpnet.optim optimizer; got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.warmup_epochs = check_int(warmup_epochs, "warmup_epochs", minimum=0)
        self.last_epoch = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        """The rate for 0-based ``epoch`` (warm-up first, then :meth:`_schedule_lr`)."""
        w = self.warmup_epochs
        if epoch < w:
            return self.base_lr * (epoch + 1) / (w + 1)
        return self._schedule_lr(epoch - w)

    def _schedule_lr(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self, metric: float | None = None) -> None:
        """Advance one epoch and set ``optimizer.lr`` for the next one (``metric`` unused)."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def _settings(self) -> dict[str, Any]:
        return {"warmup_epochs": self.warmup_epochs}

    def state_dict(self) -> dict[str, Any]:
        """Type, settings and counters as plain numbers (JSON-serializable)."""
        return {
            "type": type(self).__name__,
            "settings": self._settings(),
            "base_lr": self.base_lr,
            "last_epoch": self.last_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters from :meth:`state_dict`; the schedule type and settings must match."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"schedule state is for {state.get('type')}, not {type(self).__name__}")
        if state.get("settings") != self._settings():
            raise ValueError(
                f"schedule state has settings {state.get('settings')}, this {type(self).__name__} "
                f"has {self._settings()}"
            )
        self.base_lr = float(state["base_lr"])
        self.last_epoch = int(state["last_epoch"])
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in {"base_lr": self.base_lr, **self._settings()}.items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The base rate every epoch (after the optional warm-up)."""

    def _schedule_lr(self, epoch):
        return self.base_lr


class StepLR(Schedule):
    """``torch.optim.lr_scheduler.StepLR``: multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, warmup_epochs: int = 0):
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = check_positive(gamma, "gamma")
        super().__init__(optimizer, warmup_epochs)

    def _schedule_lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def _settings(self):
        return {"step_size": self.step_size, "gamma": self.gamma, **super()._settings()}


class ExponentialLR(Schedule):
    """``torch.optim.lr_scheduler.ExponentialLR``: multiply by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, warmup_epochs: int = 0):
        self.gamma = check_positive(gamma, "gamma")
        super().__init__(optimizer, warmup_epochs)

    def _schedule_lr(self, epoch):
        return self.base_lr * self.gamma**epoch

    def _settings(self):
        return {"gamma": self.gamma, **super()._settings()}


class CosineAnnealingLR(Schedule):
    """``torch.optim.lr_scheduler.CosineAnnealingLR`` (closed form), after an optional warm-up.

    ``T_max`` counts all epochs, warm-up included: the cosine runs over ``T_max -
    warmup_epochs`` epochs and reaches ``eta_min`` at epoch ``T_max`` (then rises again,
    as torch's does, if training goes on).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, warmup_epochs: int = 0):  # noqa: N803
        self.T_max = check_int(T_max, "T_max", minimum=1)
        self.eta_min = check_positive(eta_min, "eta_min", allow_zero=True)
        warmup_epochs = check_int(warmup_epochs, "warmup_epochs", minimum=0)
        if warmup_epochs >= self.T_max:
            raise ValueError(f"warmup_epochs={warmup_epochs} must be smaller than T_max={self.T_max}")
        super().__init__(optimizer, warmup_epochs)

    def _schedule_lr(self, epoch):
        period = self.T_max - self.warmup_epochs
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(math.pi * epoch / period)) / 2.0

    def _settings(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min, **super()._settings()}


class ReduceLROnPlateau(Schedule):
    """``torch.optim.lr_scheduler.ReduceLROnPlateau``: cut the rate when the metric stalls.

    After more than ``patience`` epochs without an improvement (``threshold``, relative or
    absolute), the rate is multiplied by ``factor`` (not below ``min_lr``), then
    ``cooldown`` epochs pass before bad epochs count again.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} is unknown; choose one of min, max")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode={threshold_mode!r} is unknown; choose one of rel, abs")
        self.factor = check_positive(factor, "factor")
        if self.factor >= 1.0:
            raise ValueError(f"factor={factor!r} is not allowed; it must be in (0, 1)")
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience = check_int(patience, "patience", minimum=0)
        self.threshold = check_positive(threshold, "threshold", allow_zero=True)
        self.cooldown = check_int(cooldown, "cooldown", minimum=0)
        self.min_lr = check_positive(min_lr, "min_lr", allow_zero=True)
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.optimizer.lr  # driven by the metric, not the epoch

    def _is_better(self, value: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1.0 - self.threshold) if rel else self.best - self.threshold)
        return value > (self.best * (1.0 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric: float | None = None) -> None:
        """Record this epoch's ``metric`` and reduce the rate if it has plateaued."""
        if metric is None:
            raise ValueError("ReduceLROnPlateau.step needs the monitored metric (e.g. the validation loss)")
        value = float(metric)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = self.optimizer.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def _settings(self):
        return {
            "mode": self.mode,
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
            "eps": self.eps,
        }

    def state_dict(self):
        state = super().state_dict()
        state.update(
            lr=self.optimizer.lr,
            best=self.best,
            num_bad_epochs=self.num_bad_epochs,
            cooldown_counter=self.cooldown_counter,
        )
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.optimizer.lr = float(state["lr"])
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])


def make_schedule(
    name: str,
    optimizer: Optimizer,
    epochs: int,
    warmup_epochs: int = 0,
    step_size: int | None = None,
    gamma: float | None = None,
    eta_min: float = 0.0,
    patience: int = 10,
) -> Schedule:
    """Build a schedule from a CLI-style name for a run of ``epochs`` epochs.

    Defaults: ``step`` decays by ``gamma=0.1`` every ``epochs // 3`` epochs; ``exponential``
    decays to 1% of the base rate over the run; ``cosine`` anneals to ``eta_min`` at the
    last epoch; ``plateau`` multiplies by ``gamma=0.1`` after ``patience`` bad epochs.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule={name!r} is unknown; choose one of {', '.join(SCHEDULES)}")
    epochs = check_int(epochs, "epochs")
    if name == "constant":
        return Constant(optimizer, warmup_epochs=warmup_epochs)
    if name == "step":
        size = max(1, (epochs - warmup_epochs) // 3) if step_size is None else step_size
        return StepLR(optimizer, size, 0.1 if gamma is None else gamma, warmup_epochs=warmup_epochs)
    if name == "exponential":
        if gamma is None:
            gamma = 0.01 ** (1.0 / max(1, epochs - warmup_epochs - 1))
        return ExponentialLR(optimizer, gamma, warmup_epochs=warmup_epochs)
    if name == "cosine":
        return CosineAnnealingLR(optimizer, epochs, eta_min=eta_min, warmup_epochs=warmup_epochs)
    if warmup_epochs:
        raise ValueError("warmup_epochs is not supported with schedule='plateau'")
    return ReduceLROnPlateau(optimizer, factor=0.1 if gamma is None else gamma, patience=patience)
