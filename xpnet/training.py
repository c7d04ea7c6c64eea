"""The trainer: mini-batch or full-batch training, early stopping and a loss history.

Data moves to the device once per ``fit``; batches are sliced there, losses and gradient
norms are accumulated there, and one small array crosses to the host per epoch (for the
history, logging, early stopping and the divergence check).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .callbacks import Callback, Checkpoint, DeferredInterrupt, LogEvery, ProgressBar, TrainingInterrupted
from .checkpoint import load_checkpoint
from .clipping import check_clip
from .history import EarlyStopping, History
from .losses import check_pairing
from .network import MLP
from .optim import Optimizer, make_optimizer
from .validation import check_bool, check_int, check_seed

__all__ = ["DivergenceWarning", "EarlyStopping", "History", "Trainer"]


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss became NaN or infinite."""


class Trainer:
    """Trains an :class:`~xpnet.MLP` with a loss, an optimizer and optional clipping.

    The defaults are ``xpnet train``'s (:class:`~xpnet.RunConfig` reads them from here): Adam
    at its default rate 1e-3 (``optimizer=None`` is the same), batches of 32, no clipping.
    ``batch_size=None`` trains full batch; ``shuffle`` reshuffles mini-batches each epoch
    on the device with a generator seeded by ``seed``. ``schedule``, if given, has a
    ``step(metric)`` method called after every epoch with the monitored loss.
    """

    def __init__(
        self,
        net: MLP,
        loss: str = "categorical_crossentropy",
        optimizer: Optimizer | str | None = "adam",
        batch_size: int | None = 32,
        shuffle: bool = True,
        clip: tuple[str, float] | None = None,
        seed: int | None = 0,
        schedule: Any = None,
        track_grad_norm: bool = True,
    ):
        if not isinstance(net, MLP):
            raise TypeError(f"net must be an xpnet.MLP; got {type(net).__name__}")
        check_pairing(loss, net.output)
        if optimizer is None or isinstance(optimizer, str):
            optimizer = make_optimizer("adam" if optimizer is None else optimizer)
        elif not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an xpnet.optim optimizer or a name; got {optimizer!r}")
        self.net = net
        self.loss = loss
        self.optimizer = optimizer
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.clip = check_clip(clip)
        self.seed = None if seed is None else check_seed(seed)
        self.schedule = _check_schedule(schedule, optimizer)
        self.track_grad_norm = check_bool(track_grad_norm, "track_grad_norm")
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
        log_every = check_int(log_every, "log_every", minimum=0)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
        progress = check_bool(progress, "progress")
        data = self._prepare(X, y, validation_data, early_stopping, resume_from, checkpoint)
        stopper = early_stopping or EarlyStopping(patience=None, restore_best=False)
        saved = self._load_resume(resume_from, epochs)  # nothing is changed unless the whole resume succeeds
        self.stopper = stopper
        history, first = self._start(saved, epochs, stopper)
        cbs = self._callbacks(epochs, log_every, progress, checkpoint, checkpoint_every, callbacks, first - 1)
        try:
            with DeferredInterrupt() as interrupt:
                for epoch in range(first, epochs + 1):
                    stop = self._epoch_step(epoch, data, history, cbs)
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
        self._finish(history, stopper, data)
        for cb in cbs:
            cb.on_train_end(self, history)
        if history.interrupted_epoch is not None:
            raise TrainingInterrupted(history)
        return history

    def _epoch_step(self, epoch: int, data, history: History, cbs) -> bool:
        """Run epoch ``epoch`` and its bookkeeping; True when the run stops (diverged or early stopping).

        Every snapshot is scored with the loss of the parameters it saves. With validation data
        that is the parameters after the epoch (the validation loss is measured on them); without,
        the parameters the epoch started from (``candidate``), which the epoch's training loss
        measures, exactly so with full batches. A diverged update is then never the best epoch.
        """
        stopper = self.stopper
        candidate = self.net.state_dict() if data[2] is None else None
        monitored = self._run_epoch(epoch, data, history, candidate)
        if not math.isfinite(monitored):
            self._restore(
                history, f"training diverged at epoch {epoch} (loss {history.train_loss[-1]})", data
            )
            return True
        if candidate is None:
            stop = stopper.update(monitored, epoch, self.net)
        else:
            stop = stopper.update(monitored, epoch - 1, self.net, state=candidate)
        history.best_epoch = stopper.best_epoch
        if self.schedule is not None:
            self.schedule.step(monitored)
        history.stopped_epoch = epoch if stop else None
        for cb in cbs:
            cb.on_epoch_end(self, history, stop)
        return stop

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
        Xv = net.as_input(validation_data[0], name="validation_data[0]")
        Yv = net.as_targets(validation_data[1], Xv.shape[0], self.loss, name="validation_data[1]")
        return Xd, Yd, Xv, Yv

    def _callbacks(
        self, epochs, log_every, progress, checkpoint, checkpoint_every, extra, done
    ) -> list[Callback]:
        cbs: list[Callback] = [LogEvery(log_every, epochs)] if log_every else []
        if progress:
            cbs.append(ProgressBar(epochs, done))
        if checkpoint is not None:
            cbs.append(Checkpoint(checkpoint, checkpoint_every, epochs))
        return cbs + list(extra)

    def _load_resume(self, resume_from, epochs: int) -> tuple[History, dict[str, Any], int] | None:
        """The run saved in ``resume_from`` loaded into this trainer: ``(history, early-stopping
        state, epochs run)``, or None for a fresh run.

        A refused resume (a damaged or foreign file, more epochs run than ``epochs``) leaves the
        network, optimizer, schedule and generators exactly as they were.
        """
        if resume_from is None:
            return None
        with _unchanged_on_error(self):
            saved = load_checkpoint(resume_from, self)
            if saved["epoch"] > epochs:
                raise ValueError(
                    f"epochs={epochs} is less than the {saved['epoch']} epochs resume_from={str(resume_from)!r} has run"
                )
            EarlyStopping().load_state_dict(saved["early_stopping"])  # parses, on a throwaway tracker
            return History(**saved["history"]), saved["early_stopping"], saved["epoch"]

    def _start(self, saved, epochs: int, stopper: EarlyStopping) -> tuple[History, int]:
        """The history so far and the first epoch to run (a fresh run, or the one ``saved``)."""
        if saved is None:
            stopper.reset(self.net)
            return History(), 1
        history, stopping, done = saved
        stopper.load_state_dict(stopping)
        return history, (epochs + 1 if history.stopped_epoch is not None else done + 1)

    def _run_epoch(self, epoch: int, data, history: History, candidate=None) -> float:
        """Train one epoch, record it in ``history``; returns the monitored loss.

        The monitored loss is NaN if a loss is not finite, or if the parameters it scores (the
        ``candidate`` copy, else the network's after the epoch) are not: those are never snapshot.
        """
        net = self.net
        xp = net.xp
        Xd, Yd, Xv, Yv = data
        lr = self.optimizer.lr
        start = time.perf_counter()
        train_loss, grad_norm = self.train_epoch(Xd, Yd)
        scored = (net.params if candidate is None else candidate).values()
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in scored]))
        metrics = xp.stack([train_loss, grad_norm, xp.astype(finite, train_loss.dtype)])
        if Xv is not None:
            metrics = xp.concat([metrics, self.eval_metrics(Xv, Yv)])
        host = net.backend.to_numpy(metrics)  # the one device->host sync per epoch
        tl, gn = float(host[0]), float(host[1])
        vl, va = (float(host[3]), float(host[4])) if Xv is not None else (math.nan, math.nan)
        history.append(
            epoch, tl, vl, va, lr, gn if self.track_grad_norm else math.nan, time.perf_counter() - start
        )
        monitored = vl if Xv is not None else tl
        return monitored if math.isfinite(tl) and host[2] == 1.0 else math.nan

    def _train_loss(self, data) -> tuple[float, bool]:
        """The network's loss on the training data (evaluation mode) and whether its parameters are finite."""
        xp = self.net.xp
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in self.net.params.values()]))
        value = self.eval_metrics(data[0], data[1])[0]
        host = self.net.backend.to_numpy(xp.stack([value, xp.astype(finite, value.dtype)]))
        return float(host[0]), bool(host[1] == 1.0)

    def _restore(self, history: History, why: str, data) -> None:
        """Stop a diverged run: restore the best parameters, report their loss, warn (DivergenceWarning)."""
        self.net.load_state_dict(self.stopper.best_state)
        history.diverged_epoch = history.stopped_epoch = history.epoch[-1] if history.epoch else 0
        history.restored_loss, _ = self._train_loss(data)
        warnings.warn(
            f"{why}; restored the parameters of epoch {history.best_epoch or 0} "
            f"(training loss {history.restored_loss:.6g})",
            DivergenceWarning,
            stacklevel=4,
        )

    def _finish(self, history: History, stopper: EarlyStopping, data) -> None:
        if history.diverged_epoch is not None:
            return
        if stopper.restore_best or history.interrupted_epoch is not None:
            if data[2] is None and history.epoch:  # the last epoch's parameters, not yet scored
                value, finite = self._train_loss(data)
                if math.isfinite(value) and finite:
                    stopper.update(value, history.epoch[-1], self.net)
                    history.best_epoch = stopper.best_epoch
            self.net.load_state_dict(stopper.best_state)
        elif not _all_finite(self.net):
            self._restore(history, "parameters became non-finite in the last epoch", data)


@contextlib.contextmanager
def _unchanged_on_error(trainer: Trainer) -> Iterator[None]:
    """Put the trainer's network, optimizer, schedule and generators back as they were if the block raises.

    Loading replaces arrays rather than writing into them, so shallow copies of the objects'
    attributes (and of the network's parameter and buffer dicts) are a complete record.
    """
    net = trainer.net
    objects = [
        o for o in (trainer, trainer.optimizer, trainer.schedule, trainer.rng, net, net.rng) if o is not None
    ]
    saved = [(o, dict(vars(o))) for o in objects]
    params, buffers = dict(net.params), dict(net.buffers)
    try:
        yield
    except BaseException:
        for obj, attrs in saved:
            vars(obj).clear()
            vars(obj).update(attrs)
        net.params.clear()
        net.params.update(params)
        net.buffers.clear()
        net.buffers.update(buffers)
        raise


def _check_schedule(schedule: Any, optimizer: Optimizer) -> Any:
    """``schedule`` is None or an object with ``step(metric)`` driving ``optimizer``; refused at construction."""
    if schedule is None:
        return None
    if isinstance(schedule, str) or not callable(getattr(schedule, "step", None)):
        raise TypeError(
            f"schedule must be None or a schedule object with a step(metric) method, e.g. "
            f"xpnet.schedules.make_schedule('cosine', trainer_optimizer, epochs=100) (or build the "
            f"trainer with RunConfig(schedule=...).build_trainer(net)); got {schedule!r}"
        )
    if getattr(schedule, "optimizer", optimizer) is not optimizer:
        raise ValueError(
            "schedule drives another optimizer than the trainer's; build it on the trainer's optimizer"
        )
    return schedule


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
