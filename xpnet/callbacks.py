"""What ``Trainer.fit`` does around the training itself: log lines, a progress bar, checkpoints.

Each callback gets ``on_epoch_end(trainer, history, stopping)`` after every completed epoch
(after the schedule has stepped, so a checkpoint holds the next epoch's rate),
``on_interrupt(trainer, history)`` when Ctrl-C stops the run after a completed epoch (before
the best parameters are restored) and ``on_train_end(trainer, history)`` once; ``fit`` builds them from its arguments, and users
may pass their own through ``callbacks=``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading

from tqdm.auto import tqdm

from .checkpoint import save_checkpoint

logger = logging.getLogger("xpnet")


def say(line: str) -> None:
    """An info line: through ``logging`` where it is configured, else on stderr (beside any progress bar)."""
    if logger.hasHandlers():
        logger.info(line)
    else:  # Python without logging set up: log_every still prints
        tqdm.write(line, file=sys.stderr)


class TqdmHandler(logging.StreamHandler):
    """A logging handler writing through ``tqdm.write``, so log lines do not break a progress bar."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)


class Callback:
    """Base class: both hooks do nothing."""

    def on_epoch_end(self, trainer, history, stopping: bool) -> None:
        pass

    def on_interrupt(self, trainer, history) -> None:
        pass

    def on_train_end(self, trainer, history) -> None:
        pass


class LogEvery(Callback):
    """A log line on the ``xpnet`` logger at epoch 1 and every ``every`` epochs; one when stopping early."""

    def __init__(self, every: int, epochs: int):
        self.every, self.epochs = every, epochs

    def on_epoch_end(self, trainer, history, stopping):
        epoch = history.epoch[-1]
        if epoch % self.every == 0 or epoch == 1:
            say(log_line(history, -1, self.epochs))

    def on_train_end(self, trainer, history):
        if history.stopped_epoch is not None and not history.diverged:
            say(f"early stopping at epoch {history.stopped_epoch}; best epoch {history.best_epoch}")


class ProgressBar(Callback):
    """A tqdm bar over the epochs, with the latest losses as its postfix."""

    def __init__(self, epochs: int, done: int = 0):
        self.bar = tqdm(desc="train", unit="epoch", initial=done, total=epochs)

    def on_epoch_end(self, trainer, history, stopping):
        self.bar.update(1)
        self.bar.set_postfix(
            loss=f"{history.train_loss[-1]:.4f}",
            val_loss=f"{history.val_loss[-1]:.4f}",
            val_acc=f"{history.val_accuracy[-1]:.4f}",
        )

    def on_train_end(self, trainer, history):
        self.bar.close()


class Checkpoint(Callback):
    """Write the run's checkpoint every ``every`` epochs, at the last epoch and when stopping early."""

    def __init__(self, path: str | os.PathLike, every: int, epochs: int):
        self.path, self.every, self.epochs = path, every, epochs

    def on_epoch_end(self, trainer, history, stopping):
        epoch = history.epoch[-1]
        if stopping or epoch == self.epochs or epoch % self.every == 0:
            save_checkpoint(self.path, trainer, history, epoch)

    def on_interrupt(self, trainer, history):
        if history.epoch:  # the state at the end of the last completed epoch: a resume goes on from it
            save_checkpoint(self.path, trainer, history, history.epoch[-1])


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``Trainer.fit``, cleanly: ``history`` is the run so far (``interrupted_epoch`` set).

    Raised after the clean-up (checkpoint written, best parameters restored, end hooks run); it
    is a ``KeyboardInterrupt``, so a loop around ``fit`` (a tuning study) still stops.
    """

    def __init__(self, history):
        super().__init__(f"training interrupted after epoch {history.interrupted_epoch}")
        self.history = history


class DeferredInterrupt:
    """While active, a first Ctrl-C (SIGINT) only sets ``requested``; the run stops after the epoch.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once. Outside the main thread, or where a
    SIGINT handler other than Python's default is installed, it changes nothing.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("interrupted: stopping after this epoch (Ctrl-C again to stop at once)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def log_line(history, i: int, epochs: int) -> str:
    """One line describing epoch ``history.epoch[i]`` of ``epochs``."""
    vl, va = history.val_loss[i], history.val_accuracy[i]
    line = f"epoch {history.epoch[i]:>5}/{epochs}  train_loss {history.train_loss[i]:.5f}"
    if not math.isnan(vl):
        line += f"  val_loss {vl:.5f}"
    if not math.isnan(va):
        line += f"  val_acc {va:.4f}"
    return line + f"  lr {history.lr[i]:.3g}  {history.epoch_time[i] * 1e3:.1f} ms"
