"""Batched trials (``xpnet tune --batch K``): ask Optuna for K trials, train them together, tell each result.

One batch is K trials asked of the study at once (ask-and-tell). The study's TPE sampler runs
with ``constant_liar=True`` (:func:`~xpnet.tune.study.load_study`), so trials asked while
others are still running are drawn away from them and a batch stays diverse. The K drawn
configurations train together with :func:`xpnet.fit_many` (stacked where their shapes allow),
and every epoch each running trial's best-so-far validation accuracy is looked at: at the
same epochs as the one-at-a-time objective (every ``report_every`` and the last) it is
reported to the study, and a trial its pruner stops stops training at once while the rest of
the batch goes on. A diverging trial is pruned, a failing one failed, each with its reason.

A trial's score is its best validation accuracy over the epochs it ran, exactly as
:class:`~xpnet.tune.objective.Objective` computes it (the same run config, seed and data), so a
configuration scores the same whichever batch it ran in, and with ``--batch 1``.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..config import RunConfig
from ..validation import check_int
from .objective import Objective

__all__ = ["BatchRunner", "run_batched"]


@dataclass
class _Member:
    """One trial of a batch: its run, the best validation accuracy so far and how it ended."""

    trial: Any
    run: RunConfig
    best: float = -math.inf
    best_epoch: int = 0
    reported: int = 0  # the last epoch reported to the pruner
    done: bool = False  # told (pruned) already

    def follow(self, val_accuracy: Sequence[float]) -> None:
        """Take the best finite accuracy of the epochs since the last look (first best epoch wins ties)."""
        for epoch in range(self.reported + 1, len(val_accuracy) + 1):
            acc = val_accuracy[epoch - 1]
            if math.isfinite(acc) and acc > self.best:
                self.best, self.best_epoch = acc, epoch


class BatchRunner:
    """Runs a study's trials ``batch`` at a time with ``objective``'s data, space and epochs.

    ``callbacks`` are Optuna study callbacks ``callback(study, frozen_trial)``, called once per
    finished trial, as ``study.optimize`` calls them.
    """

    def __init__(self, study, objective: Objective, batch: int, callbacks: Sequence[Any] = ()):
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be an xpnet.tune.Objective; got {type(objective).__name__}")
        self.study = study
        self.objective = objective
        self.batch = check_int(batch, "batch")
        self.callbacks = list(callbacks)
        self.members: list[_Member] = []

    def run(self, n_trials: int | None, timeout: float | None = None) -> None:
        """Ask, train and tell until ``n_trials`` trials ran, or no batch starts after ``timeout`` seconds."""
        if n_trials is None and timeout is None:
            raise ValueError("give n_trials or a timeout, or the study never ends")
        start, started = time.monotonic(), 0
        while n_trials is None or started < n_trials:
            if timeout is not None and time.monotonic() - start >= timeout:
                break
            k = self.batch if n_trials is None else min(self.batch, n_trials - started)
            self.run_batch(k)
            started += k

    def run_batch(self, k: int) -> None:
        """Ask ``k`` trials, train them together, tell each its score (or that it was pruned or failed)."""
        with _quiet_heartbeat():
            self._ask(k)
        if not self.members:
            return
        try:
            with self._heartbeats(), _quiet_heartbeat():
                results = self._fit()
        except Exception:  # one bad member must not fail the others: train the rest one by one
            for member in self.members:
                if not member.done:
                    self._alone(member)
            return
        except KeyboardInterrupt:  # as study.optimize does: the running trials fail, then stop
            for member in self.members:
                if not member.done:
                    self._tell_failed(member.trial, "interrupted (Ctrl-C)")
            raise
        with _quiet_heartbeat():
            for member, result in zip(self.members, results, strict=True):
                if not member.done:
                    self._tell_result(member, result.history)

    def _ask(self, k: int) -> None:
        """Ask ``k`` trials and draw their runs (a trial whose draw the run config refuses fails now)."""
        import optuna
        from optuna.storages._heartbeat import is_heartbeat_enabled

        if is_heartbeat_enabled(self.study._storage):  # noqa: SLF001 - as study.optimize does before a trial
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)
        self.members = []
        for _ in range(check_int(k, "k")):
            trial = self.study.ask()
            trial.set_user_attr("pid", os.getpid())
            trial.set_user_attr("host", socket.gethostname())  # with pid: whose trial a dead worker left
            try:
                run = self.objective.config(trial)
            except Exception as exc:  # this trial fails, the batch goes on
                self._tell_failed(trial, exc)
                continue
            self.members.append(_Member(trial, run))

    def _tell_result(self, member: _Member, history) -> None:
        """Tell a member that trained to its end: complete with its best score, or pruned if it diverged."""
        import optuna

        member.follow(history.val_accuracy)
        if history.diverged:
            self._prune(member, f"diverged at epoch {history.diverged_epoch} (loss became NaN/inf)")
            return
        self._report(member, len(history))
        if member.done:
            return
        member.trial.set_user_attr("best_epoch", member.best_epoch)
        self._finished(self.study.tell(member.trial, member.best, state=optuna.trial.TrialState.COMPLETE))

    # --- training -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _heartbeats(self):
        """Each member's heartbeat while the batch trains (storages with heartbeats), as study.optimize keeps one."""
        from optuna.storages._heartbeat import get_heartbeat_thread

        with contextlib.ExitStack() as stack:
            for member in self.members:
                stack.enter_context(get_heartbeat_thread(member.trial._trial_id, self.study._storage))  # noqa: SLF001
            yield

    def _fit(self):
        """All members through :func:`xpnet.fit_many`, the pruner consulted after every epoch."""
        from ..many import fit_many
        from ..training import DivergenceWarning

        ds = self.objective.dataset
        configs = [m.run.replace(patience=0) for m in self.members]  # the objective stops no trial early
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)  # a pruned trial, below
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow noise on the way there
            return fit_many(
                configs, ds.X_train, ds.y_train, ds.X_val, ds.y_val, on_epoch=self._on_epoch,
                n_outputs=configs[0].n_outputs(ds.n_classes),
            )  # fmt: skip

    def _on_epoch(self, epoch: int, histories, active) -> list[int]:
        """fit_many's hook: report at the objective's epochs; the members the pruner stops, to stop now."""
        stop = []
        for i, member in enumerate(self.members):
            history = histories[i]
            if member.done or not active[i] or len(history) < epoch or history.diverged:
                continue
            member.follow(history.val_accuracy)
            self._report(member, epoch)
            if member.done:
                stop.append(i)
        return stop

    def _report(self, member: _Member, epoch: int) -> None:
        """Report at every ``report_every``-th epoch and the last, as the objective does; prune if told to."""
        if member.reported >= epoch:
            return
        member.reported = epoch
        if epoch % self.objective.report_every and epoch != self.objective.epochs:
            return
        member.trial.report(member.best, epoch)
        if member.trial.should_prune():
            self._prune(member, f"pruned at epoch {epoch} (best val accuracy {member.best:.4f})")

    def _alone(self, member: _Member) -> None:
        """Train one member by the objective's own path (after the batch failed as a whole)."""
        import optuna

        try:
            best, best_epoch = self.objective._train(member.trial, member.run)  # noqa: SLF001
        except optuna.TrialPruned:
            self._finished(self.study.tell(member.trial, state=optuna.trial.TrialState.PRUNED))
        except Exception as exc:  # recorded as the trial's reason
            self._tell_failed(member.trial, exc)
        else:
            member.trial.set_user_attr("best_epoch", best_epoch)
            self._finished(self.study.tell(member.trial, best, state=optuna.trial.TrialState.COMPLETE))

    # --- telling --------------------------------------------------------------------------
    def _prune(self, member: _Member, reason: str) -> None:
        import optuna

        member.done = True
        member.trial.set_user_attr("reason", reason)
        member.trial.set_user_attr("best_epoch", member.best_epoch)
        self._finished(self.study.tell(member.trial, state=optuna.trial.TrialState.PRUNED))

    def _tell_failed(self, trial, exc: Exception | str) -> None:
        import optuna

        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        trial.set_user_attr("reason", reason)
        self._finished(self.study.tell(trial, state=optuna.trial.TrialState.FAIL))

    def _finished(self, frozen) -> None:
        for callback in self.callbacks:
            callback(self.study, frozen)


@contextlib.contextmanager
def _quiet_heartbeat():
    """Optuna warns that heartbeats belong to study.optimize; this runner keeps them itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


def run_batched(study, objective: Objective, n_trials: int | None, batch: int, timeout=None, callbacks=()):
    """Run ``n_trials`` trials of ``study`` ``batch`` at a time (see :class:`BatchRunner`); returns the study."""
    BatchRunner(study, objective, batch, callbacks).run(n_trials, timeout)
    return study
