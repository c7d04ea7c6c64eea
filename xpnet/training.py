"""The trainer: mini-batch or full-batch training, early stopping and a loss history.

Data moves to the device once per ``fit``; batches are sliced there, losses and gradient
norms are accumulated there, and one small array crosses to the host per epoch (for the
history, logging, early stopping and the divergence check).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .callbacks import Callback, Checkpoint, DeferredInterrupt, LogEvery, ProgressBar, TrainingInterrupted
from .checkpoint import load_checkpoint
from .clipping import check_clip
from .losses import check_pairing
from .network import MLP
from .optim import SGD, Optimizer, make_optimizer
from .validation import check_int, check_positive


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss became NaN or infinite."""


@dataclass
class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    It owns the run's best value, a copy of the best parameters and buffers, and the patience
    counter. With ``restore_best`` the best epoch's values are restored at the end (from a copy,
    so later in-place updates cannot touch it). With ``track_min`` the bar is the running
    minimum, as scikit-learn's ``tol`` rule has it: a gain smaller than ``min_delta`` still moves
    the best value (so a slow crawl counts as no improvement). ``patience=None`` never stops:
    the trainer uses that to keep the best state for its divergence guard.
    """

    patience: int | None = 10
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

    def reset(self, net: MLP) -> None:
        """Start a run: the current parameters are the best so far."""
        self.best_value, self.best_state, self.best_epoch, self.since_best = (
            math.inf,
            net.state_dict(),
            None,
            0,
        )

    def update(self, value: float, epoch: int, net: MLP) -> bool:
        """Record epoch ``epoch``'s monitored ``value``; True when patience has run out."""
        if value < self.best_value - self.min_delta:
            self._take(value, epoch, net)
            self.since_best = 0
        else:
            self.since_best += 1
            if self.track_min and value < self.best_value:
                self._take(value, epoch, net)
        return self.patience is not None and self.since_best >= self.patience

    def _take(self, value: float, epoch: int, net: MLP) -> None:
        self.best_value, self.best_state, self.best_epoch = value, net.state_dict(), epoch

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


class Trainer:
    """Trains an :class:`~xpnet.MLP` with a loss, an optimizer and optional clipping.

    ``batch_size=None`` trains full batch; ``shuffle`` reshuffles mini-batches each epoch
    on the device with a generator seeded by ``seed``. ``schedule``, if given, has a
    ``step(metric)`` method called after every epoch with the monitored loss.
    """

    def __init__(
        self,
        net: MLP,
        loss: str = "categorical_crossentropy",
        optimizer: Optimizer | str | None = None,
        batch_size: int | None = None,
        shuffle: bool = True,
        clip: tuple[str, float] | None = None,
        seed: int | None = 0,
        schedule: Any = None,
        track_grad_norm: bool = True,
    ):
        if not isinstance(net, MLP):
            raise TypeError(f"net must be an xpnet.MLP; got {type(net).__name__}")
        check_pairing(loss, net.output)
        if optimizer is None:
            optimizer = SGD(lr=0.01)
        elif isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer)
        elif not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an xpnet.optim optimizer or a name; got {optimizer!r}")
        self.net = net
        self.loss = loss
        self.optimizer = optimizer
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.clip = check_clip(clip)
        self.seed = seed
        self.schedule = schedule
        self.track_grad_norm = bool(track_grad_norm)
        self.rng = net.backend.rng(seed)
        self.stopper: EarlyStopping | None = None

    # --- one step, one epoch ---------------------------------------------------------
    def train_step(self, xb, yb):
        """One update on device batch ``xb``, ``yb``: ``(loss, grad norm or None)`` as device scalars."""
        net, ops = self.net, self.net.backend
        value, grads, aux = net.loss_and_grads(xb, yb, self.loss, step_buffers=True)
        if aux.batch_stats:
            net.update_batch_stats(aux.batch_stats)
        norm = ops.global_norm(grads.values()) if self.track_grad_norm else None
        if self.clip is not None:
            grads = ops.clip(grads, *self.clip)
        self.optimizer.step(net.params, grads, ops)
        return value, norm

    def train_epoch(self, X, Y):
        """One pass over device arrays ``X``, ``Y``; returns device scalars (mean loss, mean grad norm)."""
        xp = self.net.xp
        n = X.shape[0]
        bs = n if self.batch_size is None else min(self.batch_size, n)
        perm = self.rng.permutation(n) if self.shuffle and bs < n else None
        loss_sum = norm_sum = None
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            if perm is None:
                xb, yb = X[start:stop, :], Y[start:stop, :]
            else:  # gather each batch as it is used (cache-hot), not a shuffled copy of all X
                idx = perm[start:stop]
                xb, yb = xp.take(X, idx, axis=0), xp.take(Y, idx, axis=0)
            value, norm = self.train_step(xb, yb)
            if norm is not None:
                norm_sum = norm if norm_sum is None else norm_sum + norm
            weighted = value * float(xb.shape[0])
            loss_sum = weighted if loss_sum is None else loss_sum + weighted
        if norm_sum is None:
            norm_sum = xp.zeros((), dtype=self.net._dtype, device=self.net.backend.device)
        return loss_sum / float(n), norm_sum / float(-(-n // bs))

    def evaluate(self, X, y) -> tuple[float, float]:
        """``(loss, accuracy)`` in evaluation mode; accuracy is NaN for identity outputs."""
        Xd = self.net.as_input(X)
        values = self.net.backend.to_numpy(
            self.eval_metrics(Xd, self.net.as_targets(y, Xd.shape[0], self.loss))
        )
        return float(values[0]), float(values[1])

    def eval_metrics(self, X, Y):
        """Device array ``[loss, accuracy]`` of an evaluation-mode pass over device arrays."""
        net = self.net
        z, a = net.eval_logits_outputs(X)
        value = net.backend.loss_value(self.loss, net.output, z, a, Y)
        return net.xp.stack([value, accuracy(net, a, Y)])

    # --- fit ---------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        validation_data: tuple[Any, Any] | None = None,
        epochs: int = 100,
        early_stopping: EarlyStopping | None = None,
        log_every: int = 0,
        progress: bool = False,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 10,
        resume_from: str | os.PathLike | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> History:
        """Train for up to ``epochs`` epochs and return the :class:`History`.

        Early stopping and the best-parameter snapshot monitor the validation loss when
        ``validation_data`` is given, else the training loss. A NaN/inf loss stops the run
        with a :class:`DivergenceWarning` and restores the best parameters seen. Ctrl-C (SIGINT)
        stops the run after the current epoch (a second one at once): the checkpoint is written,
        the best parameters are restored, the end hooks run, and :class:`TrainingInterrupted` (a
        ``KeyboardInterrupt``) is raised with the history (``interrupted_epoch`` set) on it.
        ``checkpoint`` (a path) is written atomically every ``checkpoint_every`` epochs and
        at the run's last epoch; ``resume_from`` continues the run saved there (same data and
        settings), ending exactly where an uninterrupted run would (see :mod:`xpnet.checkpoint`).
        """
        epochs = check_int(epochs, "epochs")
        data = self._prepare(X, y, validation_data, early_stopping, resume_from, checkpoint)
        cbs = self._callbacks(epochs, log_every, progress, checkpoint, checkpoint_every, callbacks)
        stopper = self.stopper = early_stopping or EarlyStopping(patience=None, restore_best=False)
        stopper.reset(self.net)
        history, first = self._resume(resume_from, epochs, stopper, cbs)
        try:
            with DeferredInterrupt() as interrupt:
                for epoch in range(first, epochs + 1):
                    monitored = self._run_epoch(epoch, data, history)
                    if not math.isfinite(monitored):
                        why = f"training diverged at epoch {epoch} (loss {history.train_loss[-1]})"
                        self._restore(history, why)
                        break
                    stop = stopper.update(monitored, epoch, self.net)
                    history.best_epoch = stopper.best_epoch
                    if self.schedule is not None:
                        self.schedule.step(monitored)
                    history.stopped_epoch = epoch if stop else None
                    for cb in cbs:
                        cb.on_epoch_end(self, history, stop)
                    if stop:
                        break
                    if interrupt.requested:  # Ctrl-C: the epoch is complete, so a checkpoint resumes exactly
                        for cb in cbs:
                            cb.on_interrupt(self, history)
                        history.interrupted_epoch = epoch
                        break
        except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread: mid-epoch
            history.interrupted_epoch = len(history)
            # the last completed epoch's checkpoint (if any) is kept; the partial epoch is dropped
        self._finish(history, stopper)
        for cb in cbs:
            cb.on_train_end(self, history)
        if history.interrupted_epoch is not None:
            raise TrainingInterrupted(history)
        return history

    def _prepare(self, X, y, validation_data, early_stopping, resume_from, checkpoint):
        """Validate the arguments and move the data to the device: ``(X, Y, X_val, Y_val)``."""
        for name, value in (("checkpoint", checkpoint), ("resume_from", resume_from)):
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"{name} must be a file path or None; got {type(value).__name__}")
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise TypeError("early_stopping must be an xpnet.EarlyStopping or None")
        net = self.net
        Xd = net.as_input(X)
        Yd = net.as_targets(y, Xd.shape[0], self.loss)
        n = Xd.shape[0]
        if net.batch_norm and n % (self.batch_size or n) == 1:
            raise ValueError(
                f"batch_norm needs at least 2 samples per training batch, but {n} samples in "
                f"batches of {self.batch_size or n} leave a batch of 1; choose another batch_size"
            )
        if validation_data is None:
            return Xd, Yd, None, None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be an (X_val, y_val) pair")
        Xv = net.as_input(validation_data[0])
        return Xd, Yd, Xv, net.as_targets(validation_data[1], Xv.shape[0], self.loss)

    def _callbacks(self, epochs, log_every, progress, checkpoint, checkpoint_every, extra) -> list[Callback]:
        log_every = check_int(log_every, "log_every", minimum=0)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
        cbs: list[Callback] = [LogEvery(log_every, epochs)] if log_every else []
        if progress:
            cbs.append(ProgressBar(epochs))
        if checkpoint is not None:
            cbs.append(Checkpoint(checkpoint, checkpoint_every, epochs))
        return cbs + list(extra)

    def _resume(self, resume_from, epochs: int, stopper: EarlyStopping, cbs) -> tuple[History, int]:
        """The history so far and the first epoch to run (a fresh run, or one saved in ``resume_from``)."""
        if resume_from is None:
            return History(), 1
        saved = load_checkpoint(resume_from, self)
        if saved["epoch"] > epochs:
            raise ValueError(f"epochs={epochs} is less than the {saved['epoch']} epochs resume_from has run")
        history = History(**saved["history"])
        stopper.load_state_dict(saved["early_stopping"])
        for cb in cbs:
            if isinstance(cb, ProgressBar):
                cb.bar.update(saved["epoch"])
        return history, (epochs + 1 if history.stopped_epoch is not None else saved["epoch"] + 1)

    def _run_epoch(self, epoch: int, data, history: History) -> float:
        """Train one epoch, record it in ``history``; returns the monitored loss (NaN if any is not finite)."""
        net = self.net
        Xd, Yd, Xv, Yv = data
        lr = self.optimizer.lr
        start = time.perf_counter()
        train_loss, grad_norm = self.train_epoch(Xd, Yd)
        metrics = net.xp.stack([train_loss, grad_norm])
        if Xv is not None:
            metrics = net.xp.concat([metrics, self.eval_metrics(Xv, Yv)])
        host = net.backend.to_numpy(metrics)  # the one device->host sync per epoch
        tl, gn = float(host[0]), float(host[1])
        vl, va = (float(host[2]), float(host[3])) if Xv is not None else (math.nan, math.nan)
        history.append(
            epoch, tl, vl, va, lr, gn if self.track_grad_norm else math.nan, time.perf_counter() - start
        )
        monitored = vl if Xv is not None else tl
        return monitored if math.isfinite(tl) else math.nan

    def _restore(self, history: History, why: str) -> None:
        """Stop a diverged run: restore the best parameters and say so with a DivergenceWarning."""
        self.net.load_state_dict(self.stopper.best_state)
        history.diverged_epoch = history.stopped_epoch = history.epoch[-1] if history.epoch else 0
        warnings.warn(
            f"{why}; restored the parameters of epoch {history.best_epoch or 0}",
            DivergenceWarning,
            stacklevel=3,
        )

    def _finish(self, history: History, stopper: EarlyStopping) -> None:
        if history.diverged_epoch is not None:
            return
        if stopper.restore_best or history.interrupted_epoch is not None:
            self.net.load_state_dict(stopper.best_state)
        elif not _all_finite(self.net):
            self._restore(history, "parameters became non-finite in the last epoch")


def accuracy(net: MLP, a, Y):
    """Fraction of rows whose predicted class matches the target's, as a 0-d array."""
    xp = net.xp
    if net.output == "identity":
        return xp.asarray(math.nan, dtype=a.dtype, device=net.backend.device)
    if net.n_outputs == 1:
        hit = (a[:, 0] >= 0.5) == (Y[:, 0] >= 0.5)
    else:
        hit = xp.argmax(a, axis=1) == xp.argmax(Y, axis=1)
    return xp.mean(xp.astype(hit, a.dtype))


def _all_finite(net: MLP) -> bool:
    xp = net.xp
    flags = xp.stack([xp.all(xp.isfinite(p)) for p in net.params.values()])
    return bool(net.backend.item(xp.astype(xp.all(flags), xp.float32)))
