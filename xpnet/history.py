"""A run's bookkeeping: the per-epoch :class:`History` and the :class:`EarlyStopping` tracker.

The tracker keeps the best snapshot the trainer's divergence guard and early stopping restore.
Every snapshot is scored with the loss *of the parameters it saves*: with validation data the
parameters after an epoch, scored by the validation loss measured on them; without, the
parameters an epoch started from, scored by the training loss that epoch measured (with full
batches exactly their loss), see :meth:`xpnet.Trainer.fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .validation import check_bool, check_int, check_positive

__all__ = ["EarlyStopping", "History"]


@dataclass
class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    It owns the run's best value, a copy of the best parameters and buffers, and the patience
    counter. With ``restore_best`` the best epoch's values are restored at the end (from a copy,
    so later in-place updates cannot touch it). With ``track_min`` the bar is the running
    minimum, as scikit-learn's ``tol`` rule has it: a gain smaller than ``min_delta`` still moves
    the best value (so a slow crawl counts as no improvement). ``patience=None`` never stops:
    the trainer uses that to keep the best state for its divergence guard. The defaults are
    ``xpnet train``'s (:class:`~xpnet.RunConfig` reads them from here).
    """

    patience: int | None = 20
    min_delta: float = 0.0
    restore_best: bool = True
    track_min: bool = False
    best_value: float = field(default=math.inf, init=False, repr=False, compare=False)
    best_state: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)
    best_epoch: int | None = field(default=None, init=False, repr=False, compare=False)
    since_best: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.patience is not None:
            self.patience = check_int(self.patience, "patience", minimum=1)
        self.min_delta = check_positive(self.min_delta, "min_delta", allow_zero=True)
        self.restore_best = check_bool(self.restore_best, "restore_best")
        self.track_min = check_bool(self.track_min, "track_min")

    def reset(self, net: Any) -> None:
        """Start a run: the current parameters are the best so far."""
        self.best_value, self.best_state, self.best_epoch, self.since_best = (
            math.inf,
            net.state_dict(),
            None,
            0,
        )

    def update(self, value: float, epoch: int, net: Any, state: dict[str, Any] | None = None) -> bool:
        """Record ``value``, the monitored loss of the parameters after ``epoch`` epochs; True when
        patience has run out. ``state`` is a copy of those parameters (default: ``net``'s now)."""
        if value < self.best_value - self.min_delta:
            self._take(value, epoch, net, state)
            self.since_best = 0
        else:
            self.since_best += 1
            if self.track_min and value < self.best_value:
                self._take(value, epoch, net, state)
        return self.patience is not None and self.since_best >= self.patience

    def _take(self, value: float, epoch: int, net: Any, state: dict[str, Any] | None) -> None:
        self.best_value, self.best_epoch = value, epoch
        self.best_state = net.state_dict() if state is None else state

    def state_dict(self) -> dict[str, Any]:
        """Best value, epoch and patience counter, and the best state (arrays, not copies)."""
        return {
            "value": self.best_value,
            "epoch": self.best_epoch,
            "since_best": self.since_best,
            "state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_value, self.since_best = float(state["value"]), int(state["since_best"])
        self.best_epoch, self.best_state = state.get("epoch"), state["state"]


@dataclass
class History:
    """Per-epoch records of a ``fit`` (lists indexed by epoch - 1)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    diverged_epoch: int | None = None
    interrupted_epoch: int | None = None  # Ctrl-C stopped the run after this many epochs
    # after a divergence restore: the restored parameters' loss on the training data (evaluation mode)
    restored_loss: float | None = None

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    def append(self, epoch: int, train_loss, val_loss, val_accuracy, lr, grad_norm, seconds) -> None:
        """Record one epoch."""
        for name, value in zip(
            ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "grad_norm", "epoch_time"),
            (epoch, train_loss, val_loss, val_accuracy, lr, grad_norm, seconds),
            strict=True,
        ):
            getattr(self, name).append(value)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
