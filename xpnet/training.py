"""The trainer: mini-batch or full-batch training, early stopping and a loss history.

Data moves to the device once per ``fit``; batches are sliced there, losses and gradient
norms are accumulated there, and one small array crosses to the host per epoch (for the
history, logging, early stopping and the divergence check).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .clipping import check_clip, clip_grads, global_norm
from .losses import check_pairing, loss_value
from .network import MLP
from .optim import SGD, Optimizer, make_optimizer
from .validation import check_int, check_positive

logger = logging.getLogger("xpnet")


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss became NaN or infinite."""


@dataclass
class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` every parameter and buffer is restored to the best epoch's values
    (from a copy, so later in-place updates cannot touch it). With ``track_min`` the bar is
    the running minimum, as scikit-learn's ``tol`` rule has it: a gain smaller than
    ``min_delta`` still moves the best value (so a slow crawl counts as no improvement).
    """

    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True
    track_min: bool = False

    def __post_init__(self):
        self.patience = check_int(self.patience, "patience", minimum=1)
        self.min_delta = check_positive(self.min_delta, "min_delta", allow_zero=True)


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

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

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

    def train_epoch(self, X, Y):
        """One pass over device arrays ``X``, ``Y``; returns device scalars (mean loss, mean grad norm)."""
        net, xp = self.net, self.net.xp
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
            value, grads, _ = net.loss_and_grads(xb, yb, self.loss, update_stats=True)
            if self.track_grad_norm:
                gn = global_norm(xp, grads)
                norm_sum = gn if norm_sum is None else norm_sum + gn
            if self.clip is not None:
                grads = clip_grads(xp, grads, *self.clip)
            self.optimizer.step(net.params, grads)
            weighted = value * float(xb.shape[0])
            loss_sum = weighted if loss_sum is None else loss_sum + weighted
        n_batches = -(-n // bs)
        zero = xp.zeros((), dtype=net._dtype, device=net.backend.device)
        grad_norm = zero if norm_sum is None else norm_sum / float(n_batches)
        return loss_sum / float(n), grad_norm

    def evaluate(self, X, y) -> tuple[float, float]:
        """``(loss, accuracy)`` in evaluation mode; accuracy is NaN for identity outputs."""
        net = self.net
        Xd = net.as_input(X)
        Yd = net.as_targets(y, Xd.shape[0], self.loss)
        values = net.backend.to_numpy(self._eval_metrics(Xd, Yd))
        return float(values[0]), float(values[1])

    def _eval_metrics(self, X, Y):
        """Device array ``[loss, accuracy]`` of an evaluation-mode pass."""
        net, xp = self.net, self.net.xp
        z, a, _ = net._forward(X, training=False)
        value = loss_value(xp, self.loss, net.output, z, a, Y)
        return xp.stack([value, accuracy(xp, net, a, Y)])

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
    ) -> History:
        """Train for up to ``epochs`` epochs and return the :class:`History`.

        Early stopping and the best-parameter snapshot monitor the validation loss when
        ``validation_data`` is given, else the training loss. A NaN/inf loss stops the run
        with a :class:`DivergenceWarning` and restores the best parameters seen.
        ``checkpoint`` (a path) is written atomically every ``checkpoint_every`` epochs and
        at the run's last epoch; ``resume_from`` continues the run saved there (same data and
        settings), ending exactly where an uninterrupted run would (see :mod:`xpnet.checkpoint`).
        """
        net = self.net
        epochs = check_int(epochs, "epochs")
        log_every = check_int(log_every, "log_every", minimum=0)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
        for name, value in (("checkpoint", checkpoint), ("resume_from", resume_from)):
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"{name} must be a file path or None; got {type(value).__name__}")
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise TypeError("early_stopping must be an xpnet.EarlyStopping or None")
        Xd = net.as_input(X)
        Yd = net.as_targets(y, Xd.shape[0], self.loss)
        n = Xd.shape[0]
        if net.batch_norm and n % (self.batch_size or n) == 1:
            raise ValueError(
                f"batch_norm needs at least 2 samples per training batch, but {n} samples in "
                f"batches of {self.batch_size or n} leave a batch of 1; choose another batch_size"
            )
        Xv = Yv = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be an (X_val, y_val) pair")
            Xv = net.as_input(validation_data[0])
            Yv = net.as_targets(validation_data[1], Xv.shape[0], self.loss)
        history = History()
        best_value, best_state, since_best = math.inf, net.state_dict(), 0
        first = 1
        if resume_from is not None:
            saved = load_checkpoint(resume_from, self)
            if saved["epoch"] > epochs:
                raise ValueError(
                    f"epochs={epochs} is less than the {saved['epoch']} epochs resume_from has run"
                )
            history = History(**saved["history"])
            best_value, best_state, since_best = saved["best_value"], saved["best_state"], saved["since_best"]
            first = epochs + 1 if history.stopped_epoch is not None else saved["epoch"] + 1
        epoch_range = range(first, epochs + 1)
        bar = tqdm(
            epoch_range, disable=not progress, desc="train", unit="epoch", initial=first - 1, total=epochs
        )
        for epoch in bar:
            lr = self.optimizer.lr
            start = time.perf_counter()
            train_loss, grad_norm = self.train_epoch(Xd, Yd)
            metrics = net.xp.stack([train_loss, grad_norm])
            if Xv is not None:
                metrics = net.xp.concat([metrics, self._eval_metrics(Xv, Yv)])
            host = net.backend.to_numpy(metrics)  # the one device->host sync per epoch
            elapsed = time.perf_counter() - start
            tl, gn = float(host[0]), float(host[1])
            vl, va = (float(host[2]), float(host[3])) if Xv is not None else (math.nan, math.nan)
            history.epoch.append(epoch)
            history.train_loss.append(tl)
            history.val_loss.append(vl)
            history.val_accuracy.append(va)
            history.lr.append(lr)
            history.grad_norm.append(gn if self.track_grad_norm else math.nan)
            history.epoch_time.append(elapsed)
            monitored = vl if Xv is not None else tl
            if not (math.isfinite(tl) and math.isfinite(monitored)):
                net.load_state_dict(best_state)
                history.diverged_epoch = history.stopped_epoch = epoch
                warnings.warn(
                    f"training diverged at epoch {epoch} (loss {tl}); restored the parameters "
                    f"of epoch {history.best_epoch or 0}",
                    DivergenceWarning,
                    stacklevel=2,
                )
                break
            min_delta = early_stopping.min_delta if early_stopping else 0.0
            if monitored < best_value - min_delta:
                best_value, best_state, since_best = monitored, net.state_dict(), 0
                history.best_epoch = epoch
            else:
                since_best += 1
                if early_stopping is not None and early_stopping.track_min and monitored < best_value:
                    best_value, best_state = monitored, net.state_dict()
                    history.best_epoch = epoch
            if log_every and (epoch % log_every == 0 or epoch == 1):
                logger.info(_log_line(epoch, epochs, tl, vl, va, lr, elapsed))
            bar.set_postfix(loss=f"{tl:.4f}", val_loss=f"{vl:.4f}", val_acc=f"{va:.4f}")
            if self.schedule is not None:
                self.schedule.step(monitored)
            stop = early_stopping is not None and since_best >= early_stopping.patience
            if stop:
                history.stopped_epoch = epoch
            if checkpoint is not None and (stop or epoch == epochs or epoch % checkpoint_every == 0):
                save_checkpoint(checkpoint, self, history, epoch, best_value, best_state, since_best)
            if stop:
                logger.info(f"early stopping at epoch {epoch}; best epoch {history.best_epoch}")
                break
        bar.close()
        if history.diverged_epoch is None:
            if early_stopping is not None and early_stopping.restore_best:
                net.load_state_dict(best_state)
            elif not _all_finite(net):
                net.load_state_dict(best_state)
                history.diverged_epoch = history.stopped_epoch = len(history)
                warnings.warn(
                    "parameters became non-finite in the last epoch; restored the parameters "
                    f"of epoch {history.best_epoch or 0}",
                    DivergenceWarning,
                    stacklevel=2,
                )
        return history


def accuracy(xp, net: MLP, a, Y):
    """Fraction of rows whose predicted class matches the target's, as a 0-d array."""
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


def _log_line(epoch, epochs, tl, vl, va, lr, elapsed) -> str:
    line = f"epoch {epoch:>5}/{epochs}  train_loss {tl:.5f}"
    if not math.isnan(vl):
        line += f"  val_loss {vl:.5f}"
    if not math.isnan(va):
        line += f"  val_acc {va:.4f}"
    return line + f"  lr {lr:.3g}  {elapsed * 1e3:.1f} ms"
