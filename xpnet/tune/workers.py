"""Running a study: in this process or in worker processes sharing one storage, devices dealt in turn."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
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
    from ..data import load_dataset

    get_backend(
        settings.backend, settings.device
    )  # a missing library or device fails here, not in every trial
    ds = load_dataset(
        settings.dataset, test_size=settings.test_size, val_size=settings.val_size, seed=settings.seed
    )
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
        return _run_workers(settings, n_trials, n_jobs, devices)
    with temporary_journal() as journal:
        # the workers share a file, but the study stays private: seeded like an in-memory one
        seed = settings.seed if settings.sampler_seed is None else settings.sampler_seed
        settings = dataclasses.replace(settings, storage=journal, sampler_seed=seed)
        return in_memory_copy(_run_workers(settings, n_trials, n_jobs, devices))  # outlives the file


def _run_workers(settings: TuneSettings, n_trials: int | None, n_jobs: int, devices: list[str]):
    """Start ``n_jobs`` worker processes on the settings' storage, wait for them and load the study."""
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
    failed = [p.name for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"tuning worker(s) {', '.join(failed)} exited abnormally; see their output above")
    return optuna.load_study(
        study_name=settings.study_name_or_default(), storage=open_storage(settings.storage)
    )


def _worker_main(settings: TuneSettings, n_trials: int, worker: int, n_workers: int) -> None:
    """A worker process's entry point: Optuna quiet, then its share of the trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_worker(settings, n_trials, worker, n_workers)
