"""The objective: train one drawn configuration and score it by validation accuracy, pruning poor ones."""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from typing import Any

from ..config import RunConfig
from ..validation import check_int
from .space import SearchSpace


class Objective:
    """Train one configuration drawn from ``space`` and return its best validation accuracy.

    ``dataset`` is a :class:`~xpnet.data.Dataset` (its test arrays are never touched). The
    best-so-far validation accuracy is reported every ``report_every`` epochs for pruning;
    the epoch that reached it is stored as the trial's ``best_epoch`` user attribute. A
    trial's run is :attr:`base` (``RunConfig`` defaults with ``epochs``, ``backend``,
    ``device``, ``dtype`` and ``seed``) with the drawn values replaced: :meth:`config`.
    """

    def __init__(
        self,
        dataset,
        space: SearchSpace | None = None,
        epochs: int = 30,
        backend: str = RunConfig.backend,
        device: Any = RunConfig.device,
        dtype: str = RunConfig.dtype,
        seed: int = RunConfig.seed,
        report_every: int | None = None,
    ):
        if len(dataset.y_val) == 0:
            raise ValueError("dataset: tuning needs a validation split (val_size > 0)")
        self.dataset = dataset
        self.space = space or SearchSpace()
        self.epochs = check_int(epochs, "epochs")
        self.report_every = check_int(report_every or max(1, self.epochs // 10), "report_every")
        self.base = RunConfig(epochs=self.epochs, backend=backend, device=device, dtype=dtype, seed=seed)

    def config(self, trial) -> RunConfig:
        """The run config of ``trial``: the values drawn from the space on top of :attr:`base`."""
        return self.base.replace(**self.space.suggest(trial))

    def __call__(self, trial) -> float:
        """Train the trial's configuration, reporting as it goes; its reason is recorded if it fails."""
        import optuna

        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", socket.gethostname())  # with pid: whose trial a dead worker left
        try:
            best, best_epoch = self._train(trial, self.config(trial))
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("reason", f"{type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("best_epoch", best_epoch)
        return best

    def _train(self, trial, run: RunConfig) -> tuple[float, int]:
        """The best validation accuracy and its epoch; raises TrialPruned on divergence or the pruner's word."""
        from ..training import DivergenceWarning

        ds = self.dataset
        trainer = run.build(ds.n_features, run.n_outputs(ds.n_classes)).trainer
        best, best_epoch, done = -math.inf, 0, 0
        while done < self.epochs:
            chunk = min(self.report_every, self.epochs - done)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DivergenceWarning)  # handled below, as a pruned trial
                warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow noise on the way there
                history = trainer.fit(
                    ds.X_train, ds.y_train, validation_data=(ds.X_val, ds.y_val), epochs=chunk
                )
            for i, acc in enumerate(history.val_accuracy):
                if math.isfinite(acc) and acc > best:
                    best, best_epoch = acc, done + i + 1
            if history.diverged:
                _prune(
                    trial,
                    best_epoch,
                    f"diverged at epoch {done + history.diverged_epoch} (loss became NaN/inf)",
                )
            done += chunk
            trial.report(best, done)
            if trial.should_prune():
                _prune(trial, best_epoch, f"pruned at epoch {done} (best val accuracy {best:.4f})")
        return best, best_epoch


def _prune(trial, best_epoch: int, reason: str) -> None:
    """Record why and where the trial stopped, then stop it as pruned."""
    import optuna

    trial.set_user_attr("reason", reason)
    trial.set_user_attr("best_epoch", best_epoch)
    raise optuna.TrialPruned(reason)


def retrain(run: RunConfig, dataset: str = "digits", test_size: float = 0.2, settings=None) -> dict[str, Any]:
    """Train ``run`` for its epochs on train+validation (the search's test split, by ``run.seed``); report test accuracy.

    ``settings`` (a :class:`~xpnet.tune.TuneSettings`) give the data instead of ``dataset``/``test_size``
    (a ``--data`` file).
    """
    from ..data import load_dataset

    if settings is not None:
        ds = settings.load_data(val_size=0.0)
    else:
        ds = load_dataset(dataset, test_size=test_size, val_size=0.0, seed=run.seed)
    trainer = run.build(ds.n_features, run.n_outputs(ds.n_classes)).trainer
    start = time.perf_counter()
    history = trainer.fit(ds.X_train, ds.y_train, epochs=run.epochs)
    seconds = time.perf_counter() - start
    test_loss, test_acc = trainer.evaluate(ds.X_test, ds.y_test)
    return {
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "epochs": len(history),
        "n_train": len(ds.y_train),
        "n_test": len(ds.y_test),
        "train_seconds": seconds,
    }
