"""Hyperparameter search with Optuna: a search space, a pruned objective, shared storages, workers.

The objective trains with :class:`~xpnet.Trainer` and scores a trial by its validation
accuracy (never the test set). Its best-so-far validation accuracy is reported every few
epochs so Optuna's pruners stop poor trials early; a diverging trial is pruned and a trial
that raises is failed, each with its reason in ``trial.user_attrs["reason"]``, and the
study goes on. Studies live in memory or in any Optuna storage (SQLite, a journal file,
PostgreSQL/MySQL), so several processes, on one machine or many, can share one study and a
crashed run resumes without losing a finished trial.

Modules: ``space`` (what is searched), ``objective`` (one trial; the retrain), ``storage``
(where studies live), ``study`` (settings, sampler, pruner), ``workers`` (processes,
devices, BLAS threads), ``report`` (progress, summary, export, plots), ``command``
(``xpnet tune``). Optuna is imported only when a study runs.
"""

from .command import add_tune_parser, cmd_tune
from .objective import Objective, retrain
from .report import ProgressPrinter, best_config, export_config, export_record, save_plots, summary
from .space import SearchSpace
from .storage import JOURNAL_SUFFIXES, open_storage
from .study import PRUNERS, TuneSettings, load_study, make_pruner
from .workers import blas_threads, run_worker, tune

__all__ = [
    "JOURNAL_SUFFIXES",
    "PRUNERS",
    "Objective",
    "ProgressPrinter",
    "SearchSpace",
    "TuneSettings",
    "add_tune_parser",
    "best_config",
    "blas_threads",
    "cmd_tune",
    "export_config",
    "export_record",
    "load_study",
    "make_pruner",
    "open_storage",
    "retrain",
    "run_worker",
    "save_plots",
    "summary",
    "tune",
]
