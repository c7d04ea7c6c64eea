"""Running a study: in this process or in worker processes sharing one storage, devices dealt in turn."""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import socket
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from ..threads import blas_threads
from ..validation import check_int
from .batch import run_batched
from .objective import Objective
from .report import ProgressPrinter
from .storage import in_memory_copy, open_storage, temporary_journal
from .study import TuneSettings, load_study


def run_worker(
    settings: TuneSettings,
    n_trials: int | None,
    worker: int = 0,
    n_workers: int = 1,
    storage=None,
    callbacks=(),
):
    """Run ``n_trials`` trials of the settings' study in this process and return the study."""
    from ..backend import get_backend

    get_backend(
        settings.backend, settings.device
    )  # a missing library or device fails here, not in every trial
    ds = settings.load_data()
    objective = Objective(
        ds, settings.space, settings.epochs, settings.backend, settings.device, settings.dtype, settings.seed,
        settings.report_every,
    )  # fmt: skip
    study = load_study(settings, worker, n_workers, storage)
    callbacks = list(callbacks)
    if settings.progress:
        stream = sys.stdout if settings.progress == "stdout" else sys.stderr
        callbacks.append(ProgressPrinter(stream, worker, n_workers))
    with blas_threads(settings.threads):
        if settings.batch > 1:  # K trials at a time, trained together (xpnet tune --batch K)
            return run_batched(study, objective, n_trials, settings.batch, settings.timeout, callbacks)
        study.optimize(
            objective, n_trials=n_trials, timeout=settings.timeout, catch=(Exception,), callbacks=callbacks,
            gc_after_trial=False,
        )  # fmt: skip
    return study


def tune(
    settings: TuneSettings | None = None,
    n_trials: int | None = 50,
    n_jobs: int = 1,
    devices: Sequence[str] | None = None,
    **options: Any,
):
    """Run a study and return it: in this process (``n_jobs=1``) or in ``n_jobs`` worker processes.

    ``options`` are :class:`TuneSettings` fields when ``settings`` is not given. Worker
    processes open the same storage; with in-memory storage and ``n_jobs > 1`` the study
    goes to a temporary journal file instead (deleted afterwards; the returned study is an
    in-memory copy). ``devices`` (e.g. ``["cuda:0", "cuda:1"]``) are dealt to workers in turn.
    ``n_trials`` is the number of trials this call runs, split among the workers.
    """
    from ..backend import get_backend

    settings = settings or TuneSettings(**options)
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_trials is not None:
        n_trials = check_int(n_trials, "n_trials")
    if n_trials is None and settings.timeout is None:
        raise ValueError("give n_trials or a timeout, or the study never ends")
    devices = list(devices or [])
    for device in devices or [settings.device]:  # fail before any worker starts
        get_backend(settings.backend, device)
    if n_jobs == 1:
        if devices:
            settings = dataclasses.replace(settings, device=devices[0])
        return run_worker(settings, n_trials, storage=open_storage(settings.storage))
    if settings.storage:
        return _run_workers(settings, n_trials, n_jobs, devices)[0]
    with temporary_journal() as journal:
        # the workers share a file, but the study stays private: seeded like an in-memory one
        seed = settings.seed if settings.sampler_seed is None else settings.sampler_seed
        settings = dataclasses.replace(settings, storage=journal, sampler_seed=seed)
        study, lost = _run_workers(settings, n_trials, n_jobs, devices, private=True)
        if lost:  # keep the file: its finished trials can be resumed with --storage
            journal.keep = True
            _warn_lost(lost, f"the study is kept in {journal.path} (continue it with --storage {journal})")
        return in_memory_copy(study)  # outlives the file


class WorkerLost(UserWarning):
    """A tuning worker process died (killed, or out of memory): its running trial is marked failed."""


def _warn_lost(lost: list[str], where: str = "") -> None:
    warnings.warn(
        f"tuning worker(s) {', '.join(lost)}; their running trials are marked failed, the finished ones kept"
        + (f"; {where}" if where else ""),
        WorkerLost,
        stacklevel=3,
    )


def _run_workers(
    settings: TuneSettings, n_trials: int | None, n_jobs: int, devices: list[str], private: bool = False
):
    """Start ``n_jobs`` worker processes on the settings' storage, wait for them and load the study.

    Returns ``(study, lost)``: ``lost`` describes the workers that died. A dead worker's running
    trial is marked failed (on a ``private`` storage every trial still running is theirs).
    """
    import optuna

    load_study(settings, 0, n_jobs)  # create it once, before the workers race to
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: safe with CUDA and threads
    procs = []
    try:
        for i in range(n_jobs):
            share = None if n_trials is None else n_trials // n_jobs + (i < n_trials % n_jobs)
            if share == 0:
                continue
            worker = dataclasses.replace(settings, device=devices[i % len(devices)]) if devices else settings
            proc = ctx.Process(target=_worker_main, args=(worker, share, i, n_jobs), name=f"xpnet-tune-{i}")
            proc.start()
            procs.append(proc)
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():  # interrupted: stop the workers we started
                proc.terminate()
                proc.join()
    study = optuna.load_study(
        study_name=settings.study_name_or_default(), storage=open_storage(settings.storage)
    )
    dead = [p for p in procs if p.exitcode != 0]
    lost = [f"{p.name} {_exit_reason(p.exitcode)}" for p in dead]
    _fail_orphans(study, {p.pid for p in dead}, private)
    if lost and not private:
        _warn_lost(lost)
    return study, lost


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _fail_orphans(study, pids: set[int], private: bool) -> None:
    """Mark failed the trials left RUNNING by dead workers (by pid on this host; all on a private storage)."""
    import optuna

    if not pids:
        return
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if private or (attrs.get("pid") in pids and attrs.get("host", host) == host):
            study._storage.set_trial_user_attr(trial._trial_id, "reason", "its worker process died")  # noqa: SLF001
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _worker_main(settings: TuneSettings, n_trials: int, worker: int, n_workers: int) -> None:
    """A worker process's entry point: Optuna quiet, then its share of the trials; errors as one line."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_worker(settings, n_trials, worker, n_workers)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - reported in one line; the parent reports the exit status
        print(f"xpnet tune: worker {worker}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
