"""Hyperparameter search with Optuna: a search space, a pruned objective, shared storages, workers.

The objective trains with :class:`~xpnet.Trainer` and scores a trial by its validation
accuracy (never the test set). Its best-so-far validation accuracy is reported every few
epochs so Optuna's pruners stop poor trials early; a diverging trial is pruned and a trial
that raises is failed, each with its reason in ``trial.user_attrs["reason"]``, and the
study goes on. Studies live in memory or in any Optuna storage (SQLite, a journal file,
PostgreSQL/MySQL), so several processes, on one machine or many, can share one study and a
crashed run resumes without losing a finished trial.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .activations import HIDDEN
from .clipping import CLIP_KINDS
from .data import DATASETS
from .initializers import INITIALIZERS
from .optim import OPTIMIZERS

PRUNERS = ("median", "successive_halving", "hyperband", "none")
BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
CLIP_CHOICES = (*CLIP_KINDS, "none")

# field -> kind: "int" / "float" / "logfloat" are (low, high) ranges, "choice" a tuple of options
_KINDS = {
    "n_layers": "int",
    "hidden_size": "int",
    "dropout_rate": "float",
    "learning_rate": "logfloat",
    "init_method": "choice",
    "clip_type": "choice",
    "clip_value": "logfloat",
    "optimizer": "choice",
    "batch_size": "choice",
    "activation": "choice",
    "weight_decay": "logfloat",
    "batch_norm": "choice",
}
_ALLOWED = {
    "init_method": INITIALIZERS,
    "clip_type": CLIP_CHOICES,
    "optimizer": OPTIMIZERS,
    "activation": tuple(HIDDEN),
    "batch_norm": (False, True),
}


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The ranges Optuna searches: the article's seven parameters plus five of the trainer's.

    Ranges are ``(low, high)`` pairs (``learning_rate``, ``clip_value`` and ``weight_decay``
    are searched on a log scale), choices are tuples; a single value fixes a parameter.
    ``hidden_size`` is the range of every ``hidden_size_{i}``, one per layer.
    """

    n_layers: Any = (1, 10)
    hidden_size: Any = (32, 128)
    dropout_rate: Any = (0.0, 0.5)
    learning_rate: Any = (1e-3, 1e-1)
    init_method: Any = INITIALIZERS
    clip_type: Any = CLIP_KINDS
    clip_value: Any = (0.5, 5.0)
    optimizer: Any = OPTIMIZERS
    batch_size: Any = (32, 64, 128)
    activation: Any = tuple(HIDDEN)
    weight_decay: Any = (1e-6, 1e-2)
    batch_norm: Any = (False, True)

    def __post_init__(self):
        for name, kind in _KINDS.items():
            object.__setattr__(self, name, _check_field(name, kind, getattr(self, name)))

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: SearchSpace | None = None) -> SearchSpace:
        """``base`` (default: the default space) with the ranges in ``values`` replaced."""
        if not isinstance(values, dict):
            raise TypeError(
                f"a search space must be a mapping of parameter -> range; got {type(values).__name__}"
            )
        unknown = sorted(set(values) - set(_KINDS))
        if unknown:
            raise ValueError(
                f"search space: unknown parameter(s) {', '.join(map(str, unknown))}; allowed: {', '.join(_KINDS)}"
            )
        return dataclasses.replace(base or cls(), **values)

    @classmethod
    def from_file(cls, path: str | os.PathLike, base: SearchSpace | None = None) -> SearchSpace:
        """Overrides read from a JSON file, or a YAML one (``.yaml``/``.yml``, needs PyYAML)."""
        path = Path(path)
        text = path.read_text()
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:  # pragma: no cover - PyYAML comes with optuna
                raise ImportError(
                    f"space={str(path)!r}: reading YAML needs PyYAML (pip install pyyaml)"
                ) from None
            values = yaml.safe_load(text)
        else:
            try:
                values = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"space={str(path)!r} is not valid JSON: {exc}") from None
        return cls.from_dict(values or {}, base)

    def to_dict(self) -> dict[str, Any]:
        """The space as plain lists (JSON- and YAML-ready)."""
        return {name: list(getattr(self, name)) for name in _KINDS}

    def suggest(self, trial) -> dict[str, Any]:
        """Draw one configuration from ``trial``, keyed as ``xpnet train``'s options."""
        n_layers = _suggest(trial, "n_layers", "int", self.n_layers)
        hidden = [_suggest(trial, f"hidden_size_{i}", "int", self.hidden_size) for i in range(n_layers)]
        config = {
            "hidden": hidden,
            "dropout": _suggest(trial, "dropout_rate", "float", self.dropout_rate),
            "lr": _suggest(trial, "learning_rate", "logfloat", self.learning_rate),
            "init": _suggest(trial, "init_method", "choice", self.init_method),
            "optimizer": _suggest(trial, "optimizer", "choice", self.optimizer),
            "batch_size": _suggest(trial, "batch_size", "choice", self.batch_size),
            "activation": _suggest(trial, "activation", "choice", self.activation),
            "weight_decay": _suggest(trial, "weight_decay", "logfloat", self.weight_decay),
            "batch_norm": _suggest(trial, "batch_norm", "choice", self.batch_norm),
        }
        clip = _suggest(trial, "clip_type", "choice", self.clip_type)
        config["clip"] = None if clip == "none" else clip
        if config["clip"] is not None:
            config["clip_value"] = _suggest(trial, "clip_value", "logfloat", self.clip_value)
        return config


def _check_field(name: str, kind: str, value: Any) -> tuple:
    if kind == "choice":
        options = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if not options:
            raise ValueError(f"search space: {name} needs at least one choice")
        allowed = _ALLOWED.get(name)
        for option in options:
            if name == "batch_size":
                if isinstance(option, bool) or not isinstance(option, int) or option < 1:
                    raise ValueError(
                        f"search space: batch_size choices must be integers >= 1; got {option!r}"
                    )
            elif option not in allowed or (name == "batch_norm") != isinstance(option, bool):
                raise ValueError(
                    f"search space: {name}={option!r} is not allowed; choose from {', '.join(map(str, allowed))}"
                )
        return options
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"search space: {name} must be a (low, high) pair or one value; got {value!r}")
    number = int if kind == "int" else (int, float)
    if any(isinstance(v, bool) or not isinstance(v, number) for v in pair):
        what = "integers" if kind == "int" else "numbers"
        raise TypeError(f"search space: {name} bounds must be {what}; got {value!r}")
    low, high = pair
    if low > high:
        raise ValueError(f"search space: {name} low {low!r} is above high {high!r}")
    minimum = {"n_layers": 0, "hidden_size": 1}.get(name, 0)
    if low < minimum:
        raise ValueError(f"search space: {name} must be >= {minimum}; got {value!r}")
    if kind == "logfloat" and low <= 0 and low != high:
        raise ValueError(f"search space: {name} is searched on a log scale, so its low bound must be > 0")
    if name == "dropout_rate" and high >= 1:
        raise ValueError(f"search space: dropout_rate must stay in [0, 1); got {value!r}")
    if name == "learning_rate" and low <= 0:
        raise ValueError(f"search space: learning_rate must be > 0; got {value!r}")
    return (low, high) if kind == "int" else (float(low), float(high))


def _suggest(trial, name: str, kind: str, spec: tuple):
    if kind == "choice":
        return trial.suggest_categorical(name, list(spec))
    low, high = spec
    if kind == "int":
        return trial.suggest_int(name, low, high)
    return trial.suggest_float(name, low, high, log=kind == "logfloat" and low < high)


def train_args(config: dict[str, Any], **options: Any) -> argparse.Namespace:
    """``xpnet train``'s parsed defaults with ``config`` and ``options`` applied (what the export means)."""
    args = argparse.Namespace(**copy.deepcopy(_train_defaults()))
    known = vars(args)
    for key, value in {**config, **options}.items():
        if key not in known:
            raise ValueError(f"config key {key!r} is not an `xpnet train` option")
        setattr(args, key, value)
    return args


@functools.lru_cache(maxsize=1)
def _train_defaults() -> dict[str, Any]:
    from .cli import make_parser

    return vars(make_parser().parse_args(["train"]))


class Objective:
    """Train one configuration drawn from ``space`` and return its best validation accuracy.

    ``dataset`` is a :class:`~xpnet.data.Dataset` (its test arrays are never touched). The
    best-so-far validation accuracy is reported every ``report_every`` epochs for pruning;
    the epoch that reached it is stored as the trial's ``best_epoch`` user attribute.
    """

    def __init__(
        self,
        dataset,
        space: SearchSpace | None = None,
        epochs: int = 30,
        backend: str = "numpy",
        device: Any = None,
        dtype: str = "float32",
        seed: int = 0,
        report_every: int | None = None,
    ):
        if len(dataset.y_val) == 0:
            raise ValueError("dataset: tuning needs a validation split (val_size > 0)")
        self.dataset = dataset
        self.space = space or SearchSpace()
        self.epochs = _check_count(epochs, "epochs")
        self.report_every = _check_count(report_every or max(1, self.epochs // 10), "report_every")
        self.backend, self.device, self.dtype, self.seed = backend, device, dtype, seed

    def __call__(self, trial) -> float:
        import optuna

        from .cli import build_model
        from .training import DivergenceWarning

        trial.set_user_attr("pid", os.getpid())
        config = self.space.suggest(trial)
        ds = self.dataset
        try:
            args = train_args(
                config, backend=self.backend, device=self.device, dtype=self.dtype, seed=self.seed
            )
            _net, trainer, _ = build_model(args, ds.n_features, ds.n_classes)
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
                    reason = f"diverged at epoch {done + history.diverged_epoch} (loss became NaN/inf)"
                    trial.set_user_attr("reason", reason)
                    trial.set_user_attr("best_epoch", best_epoch)
                    raise optuna.TrialPruned(reason)
                done += chunk
                trial.report(best, done)
                if trial.should_prune():
                    trial.set_user_attr("reason", f"pruned at epoch {done} (best val accuracy {best:.4f})")
                    trial.set_user_attr("best_epoch", best_epoch)
                    raise optuna.TrialPruned()
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("reason", f"{type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("best_epoch", best_epoch)
        return best


def open_storage(url: str | None):
    """An Optuna storage for ``url``: None (in memory), ``journal:PATH`` or a ``.log`` path, or an RDB URL."""
    import optuna

    if url is None or url == "":
        return optuna.storages.InMemoryStorage()
    if not isinstance(url, str):
        raise TypeError(f"storage must be a URL string; got {type(url).__name__}")
    if url.startswith("journal:") or ("://" not in url and url.endswith(JOURNAL_SUFFIXES)):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = url.removeprefix("journal:")
        if not path:
            raise ValueError("storage='journal:' needs a file path, e.g. journal:study.log")
        return JournalStorage(JournalFileBackend(path))
    if "://" not in url:
        raise ValueError(
            f"storage={url!r} is not understood; use sqlite:///study.db, postgresql://user@host/db, "
            "mysql+pymysql://..., journal:PATH or a PATH ending in .log"
        )
    # heartbeats let a live worker mark the RUNNING trials of a killed one as failed
    for attempt in range(3):  # fresh databases: concurrent workers may race to create the tables
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120)
        except ImportError as exc:
            raise ImportError(
                f'storage={url!r} needs its database driver ({exc}); for PostgreSQL: pip install "xpnet[postgres]"'
            ) from exc
        except Exception as exc:  # noqa: BLE001 - re-raised below with the URL
            if attempt == 2 or "duplicate" not in str(exc).lower():
                raise ValueError(f"storage={url!r} could not be opened: {exc}") from exc
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def make_pruner(name: str, epochs: int, report_every: int):
    """An Optuna pruner by name: median, successive_halving, hyperband or none."""
    import optuna

    if name not in PRUNERS:
        raise ValueError(f"pruner={name!r} is unknown; choose one of {', '.join(PRUNERS)}")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=report_every)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=report_every, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=report_every, max_resource=epochs, reduction_factor=3
        )
    return optuna.pruners.NopPruner()


@dataclasses.dataclass
class TuneSettings:
    """Everything a worker process needs to rebuild the study and the objective (picklable)."""

    dataset: str = "digits"
    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    epochs: int = 30
    backend: str = "numpy"
    device: Any = None
    dtype: str = "float32"
    seed: int = 0
    val_size: float = 0.1
    test_size: float = 0.2
    storage: str | None = None
    study_name: str | None = None
    pruner: str = "median"
    report_every: int | None = None
    timeout: float | None = None
    sampler_seed: int | None = None
    threads: int | None = 1  # BLAS threads per worker; None leaves the library's default
    progress: str | None = None  # "stdout", "stderr" or None

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset={self.dataset!r} is unknown; choose one of {', '.join(DATASETS)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
        if not isinstance(self.space, SearchSpace):
            raise TypeError(f"space must be an xpnet.tuning.SearchSpace; got {type(self.space).__name__}")
        self.epochs = _check_count(self.epochs, "epochs")
        if self.report_every is None:
            self.report_every = max(1, self.epochs // 10)
        self.report_every = _check_count(self.report_every, "report_every")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner={self.pruner!r} is unknown; choose one of {', '.join(PRUNERS)}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout={self.timeout!r} must be a positive number of seconds")
        if not 0.0 < self.val_size < 1.0:
            raise ValueError(
                f"val_size={self.val_size!r} must be in (0, 1): tuning scores the validation split"
            )
        if self.threads is not None:
            self.threads = _check_count(self.threads, "threads")
        if self.progress not in (None, "stdout", "stderr"):
            raise ValueError(f"progress={self.progress!r} must be 'stdout', 'stderr' or None")

    def study_name_or_default(self) -> str:
        return self.study_name or f"xpnet-{self.dataset}"


def load_study(settings: TuneSettings, worker: int = 0, n_workers: int = 1, storage=None):
    """Create or load the settings' study (``load_if_exists``), with a seeded TPE sampler and the pruner."""
    import optuna

    seed = settings.sampler_seed
    if seed is None and not settings.storage:
        seed = settings.seed  # a private study: reproducible by default
    # independent samplers (seed None) for processes sharing a stored study, else they repeat each other;
    # the constant liar keeps concurrent workers from sampling next to each other's running trials
    sampler = optuna.samplers.TPESampler(seed=None if seed is None else seed + worker, constant_liar=True)
    pruner = make_pruner(settings.pruner, settings.epochs, settings.report_every)
    study = optuna.create_study(
        storage=open_storage(settings.storage) if storage is None else storage,
        study_name=settings.study_name_or_default(),
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    _check_resumable(study, settings.space)
    return study


def _check_resumable(study, space: SearchSpace) -> None:
    """Refuse, before any trial runs, a space whose choices differ from a resumed study's (Optuna would fail every trial)."""
    seen: dict[str, tuple] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            if name in _KINDS and _KINDS[name] == "choice":
                seen.setdefault(name, tuple(dist.choices))
        if len(seen) == sum(kind == "choice" for kind in _KINDS.values()):
            break
    for name, choices in seen.items():
        if choices != tuple(getattr(space, name)):
            raise ValueError(
                f"study {study.study_name!r} searched {name} over {list(choices)}; this space has "
                f"{list(getattr(space, name))}: use the same choices or a new --study-name"
            )


def run_worker(
    settings: TuneSettings,
    n_trials: int | None,
    worker: int = 0,
    n_workers: int = 1,
    storage=None,
    callbacks=(),
):
    """Run ``n_trials`` trials of the settings' study in this process and return the study."""
    from .backend import get_backend
    from .data import load_dataset

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
        callbacks.append(
            ProgressPrinter(sys.stdout if settings.progress == "stdout" else sys.stderr, worker, n_workers)
        )
    with blas_threads(settings.threads):
        study.optimize(
            objective, n_trials=n_trials, timeout=settings.timeout, catch=(Exception,), callbacks=callbacks,
            gc_after_trial=False,
        )  # fmt: skip
    return study


def blas_threads(threads: int | None):
    """Limit the BLAS/OpenMP thread pools (a no-op context for None or without threadpoolctl).

    An MLP's small matrix products run fastest on one thread; extra BLAS threads only spin
    against the other workers (2.3x slower per epoch on a busy 2-core machine).
    """
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads)


def _worker_main(settings: TuneSettings, n_trials: int, worker: int, n_workers: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_worker(settings, n_trials, worker, n_workers)


class ProgressPrinter:
    """An Optuna callback printing one line per finished trial: state, value, best so far, params."""

    def __init__(self, stream=None, worker: int = 0, n_workers: int = 1):
        self.stream, self.prefix = stream or sys.stdout, f"[worker {worker}] " if n_workers > 1 else ""

    def __call__(self, study, trial) -> None:
        state = trial.state.name.lower()
        value = "" if trial.value is None else f" val_acc {trial.value:.4f}"
        seconds = trial.duration.total_seconds() if trial.duration else math.nan
        try:
            best = f"  best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = ""
        reason = trial.user_attrs.get("reason")
        reason = f"  [{reason}]" if reason and state != "complete" else ""
        params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        print(
            f"{self.prefix}trial {trial.number:>3} {state:<8}{value} {seconds:6.2f} s{best}{reason}  {params}",
            file=self.stream,
            flush=True,
        )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


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
    import optuna

    settings = settings or TuneSettings(**options)
    n_jobs = _check_count(n_jobs, "n_jobs")
    if n_trials is not None:
        n_trials = _check_count(n_trials, "n_trials")
    if n_trials is None and settings.timeout is None:
        raise ValueError("give n_trials or a timeout, or the study never ends")
    devices = list(devices or [])
    from .backend import get_backend

    for device in devices or [settings.device]:  # fail before any worker starts
        get_backend(settings.backend, device)
    if n_jobs == 1:
        if devices:
            settings = dataclasses.replace(settings, device=devices[0])
        storage = open_storage(settings.storage)
        return run_worker(settings, n_trials, storage=storage)
    tmpdir = None
    if not settings.storage:
        tmpdir = tempfile.mkdtemp(prefix="xpnet-tune-")
        journal = f"journal:{os.path.join(tmpdir, 'study.log')}"
        sampler_seed = (
            settings.seed if settings.sampler_seed is None else settings.sampler_seed
        )  # still private
        settings = dataclasses.replace(settings, storage=journal, sampler_seed=sampler_seed)
    try:
        load_study(settings, 0, n_jobs)  # create it once, before the workers race to
        ctx = multiprocessing.get_context("spawn")  # fresh interpreters: safe with CUDA and threads
        procs = []
        for i in range(n_jobs):
            share = None if n_trials is None else n_trials // n_jobs + (i < n_trials % n_jobs)
            if share == 0:
                continue
            worker_settings = (
                dataclasses.replace(settings, device=devices[i % len(devices)]) if devices else settings
            )
            proc = ctx.Process(
                target=_worker_main, args=(worker_settings, share, i, n_jobs), name=f"xpnet-tune-{i}"
            )
            proc.start()
            procs.append(proc)
        try:
            for proc in procs:
                proc.join()
        finally:
            for proc in procs:
                if proc.is_alive():  # interrupted: stop the workers we started
                    proc.terminate()
                    proc.join()
        failed = [p.name for p in procs if p.exitcode != 0]
        if failed:
            raise RuntimeError(
                f"tuning worker(s) {', '.join(failed)} exited abnormally; see their output above"
            )
        study = optuna.load_study(
            study_name=settings.study_name_or_default(), storage=open_storage(settings.storage)
        )
        if tmpdir is not None:  # keep the results after the temporary file is gone
            copy = optuna.create_study(direction="maximize", study_name=study.study_name)
            copy.add_trials(study.get_trials(deepcopy=False))
            study = copy
        return study
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def summary(study) -> dict[str, Any]:
    """Best value and parameters and the count of trials by state."""
    from optuna.trial import TrialState

    counts = {state: 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state] += 1
    result: dict[str, Any] = {
        "study_name": study.study_name,
        "best_value": None,
        "best_params": None,
        "best_trial": None,
        "n_trials": sum(counts.values()),
        "n_complete": counts[TrialState.COMPLETE],
        "n_pruned": counts[TrialState.PRUNED],
        "n_failed": counts[TrialState.FAIL],
        "n_running": counts[TrialState.RUNNING],
    }
    if counts[TrialState.COMPLETE]:
        best = study.best_trial
        result.update(best_value=best.value, best_params=best.params, best_trial=best.number)
        result["best_epoch"] = best.user_attrs.get("best_epoch")
    return result


def best_config(study, space: SearchSpace | None = None, **extra: Any) -> dict[str, Any]:
    """The best trial's configuration, keyed as ``xpnet train`` options, with ``epochs`` = its best epoch."""
    import optuna

    trial = study.best_trial
    config = (space or SearchSpace()).suggest(optuna.trial.FixedTrial(trial.params))
    if config["clip"] is None:
        config.pop("clip_value", None)
    config["epochs"] = int(trial.user_attrs.get("best_epoch") or 1)
    config.update(extra)
    return config


def export_config(config: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``config`` as JSON that ``xpnet train --config PATH`` accepts (atomically)."""
    train_args(config)  # every key must be a train option
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, path)


def retrain(
    config: dict[str, Any],
    dataset: str = "digits",
    test_size: float = 0.2,
    seed: int = 0,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float32",
) -> dict[str, Any]:
    """Train ``config`` on train+validation (the same test split as the search) and report test accuracy."""
    from .cli import build_model
    from .data import load_dataset

    ds = load_dataset(dataset, test_size=test_size, val_size=0.0, seed=seed)
    options = {"backend": backend, "device": device, "dtype": dtype, "seed": seed}
    args = train_args(
        {k: v for k, v in config.items() if k not in ("dataset", "val_size", "test_size")}, **options
    )
    _net, trainer, _ = build_model(args, ds.n_features, ds.n_classes)
    start = time.perf_counter()
    history = trainer.fit(ds.X_train, ds.y_train, epochs=args.epochs)
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


def save_plots(study, directory: str | os.PathLike) -> dict[str, str]:
    """Optimization history, parameter importances and parallel coordinates as PNGs in ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Callable] = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "parallel_coordinate": ovm.plot_parallel_coordinate,
    }
    n_complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    written = {}
    for name, plot in plots.items():
        if name == "param_importances" and n_complete < 2:
            continue  # importances need at least two finished trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message="Some regimes for parameter")  # few trials per bin
            ax = plot(study)
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written[name] = str(path)
    return written


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= 1")
    return value


# --- command line ---------------------------------------------------------------------------

TUNE_EXAMPLES = """examples:
  xpnet tune                                       # 50 trials on digits with NumPy, median pruning
  xpnet tune --trials 100 --timeout 600 --pruner hyperband --plot-dir plots --retrain --export best.json
  xpnet train --config best.json                  # train the best configuration found
  xpnet tune --storage sqlite:///study.db --study-name digits   # resumable; run it again to add trials
  xpnet tune --storage journal:study.log --n-jobs 2             # two worker processes, one study
  xpnet tune --storage postgresql://user@dbhost/optuna --study-name big --device cuda:0  # one of many hosts
  xpnet tune --space space.yaml --json              # override ranges, e.g. {"n_layers": [1, 3]}
"""


def add_tune_parser(sub) -> argparse.ArgumentParser:
    """Register ``xpnet tune`` on the CLI's subparsers."""
    p = sub.add_parser(
        "tune",
        help="search hyperparameters with Optuna (validation accuracy, pruning, shared storage)",
        description="Search depth, widths, dropout, learning rate, initializer, clipping, optimizer, "
        "batch size, activation, weight decay and batch norm with Optuna, scoring each trial by "
        "its best validation accuracy (never the test set) and pruning poor trials early.",
        epilog=TUNE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("search")
    g.add_argument("--trials", type=int, default=50, help="trials this run adds to the study (default 50)")
    g.add_argument(
        "--timeout", type=float, default=None, help="stop starting trials after S seconds (per worker)"
    )
    g.add_argument("--epochs", type=int, default=30, help="epochs per trial (default 30)")
    g.add_argument(
        "--report-every",
        type=int,
        default=None,
        help="report to the pruner every N epochs (default epochs/10)",
    )
    g.add_argument("--pruner", choices=PRUNERS, default="median")
    g.add_argument("--space", metavar="FILE", help="JSON or YAML file overriding search ranges")
    g.add_argument("--seed", type=int, default=0, help="data split and initial weights (default 0)")
    g.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="TPE sampler seed (default: --seed for in-memory studies, random for stored ones, so that "
        "processes sharing a study explore differently)",
    )
    g = p.add_argument_group("data and backend")
    g.add_argument("--dataset", default="digits", choices=DATASETS)
    g.add_argument("--val-size", type=float, default=0.1, help="validation fraction (default 0.1)")
    g.add_argument("--test-size", type=float, default=0.2, help="test fraction (default 0.2)")
    g.add_argument("--backend", default="numpy", choices=BACKENDS)
    g.add_argument(
        "--device", default=None, help="e.g. cuda:0; comma-separated devices are dealt to --n-jobs workers"
    )
    g.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    g = p.add_argument_group("storage and workers")
    g.add_argument(
        "--storage",
        default=None,
        help="Optuna storage: sqlite:///study.db, postgresql://user@host/db, journal:study.log or a .log path "
        "(default: in memory)",
    )
    g.add_argument("--study-name", default=None, help="default xpnet-DATASET; an existing study is resumed")
    g.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="worker processes on this machine (default 1); in-memory storage then uses a temporary journal file",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads per worker (default 1: small MLPs train fastest on one; 0 keeps the library default)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--retrain",
        action="store_true",
        help="retrain the best configuration on train+val; report test accuracy",
    )
    g.add_argument("--export", metavar="JSON", help="write the best configuration for `xpnet train --config`")
    g.add_argument(
        "--plot-dir", metavar="DIR", help="write optimization history, importances and parallel coordinates"
    )
    g.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.set_defaults(func=cmd_tune)
    return p


def cmd_tune(args: argparse.Namespace) -> int:
    """``xpnet tune``: run the study, print the best trial, optionally retrain, export and plot."""
    try:
        import optuna
    except ImportError:
        raise ImportError('xpnet tune needs Optuna: pip install "xpnet[tune]"') from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = _check_count(args.trials, "--trials")
    n_jobs = _check_count(args.n_jobs, "--n-jobs")
    space = SearchSpace.from_file(args.space) if args.space else SearchSpace()
    devices = [d.strip() for d in args.device.split(",") if d.strip()] if args.device else []
    settings = TuneSettings(
        dataset=args.dataset,
        space=space,
        epochs=args.epochs,
        backend=args.backend,
        device=devices[0] if devices else None,
        dtype=args.dtype,
        seed=args.seed,
        val_size=args.val_size,
        test_size=args.test_size,
        storage=args.storage,
        study_name=args.study_name,
        pruner=args.pruner,
        report_every=args.report_every,
        timeout=args.timeout,
        sampler_seed=args.sampler_seed,
        threads=args.threads or None,
        progress="stderr" if args.json else "stdout",
    )
    if n_jobs > 1 and not args.storage and not args.json:
        print(f"in-memory storage with --n-jobs {n_jobs}: the workers share a temporary journal file "
              "(removed afterwards); pass --storage to keep the study")  # fmt: skip
    start = time.perf_counter()
    study = tune(settings, n_trials=trials, n_jobs=n_jobs, devices=devices)
    result = summary(study)
    result["seconds"] = time.perf_counter() - start
    if result["n_complete"] == 0:
        if args.json:
            print(json.dumps(result))
        else:
            reasons = sorted({t.user_attrs.get("reason", "?") for t in study.trials if t.state.is_finished()})
            print(
                f"no trial completed ({result['n_pruned']} pruned, {result['n_failed']} failed): "
                + "; ".join(reasons[:3])
            )
        return 1
    config = best_config(study, space, dataset=args.dataset, seed=args.seed)
    result["best_config"] = config
    if args.retrain:
        with blas_threads(settings.threads):
            result["retrain"] = retrain(
                config, args.dataset, args.test_size, args.seed, args.backend, devices[0] if devices else None,
                args.dtype,
            )  # fmt: skip
        result["test_accuracy"] = result["retrain"]["test_accuracy"]
    if args.export:
        export_config(config, args.export)
        result["export"] = args.export
    if args.plot_dir:
        result["plots"] = save_plots(study, args.plot_dir)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"study {result['study_name']!r}: {result['n_trials']} trials ({result['n_complete']} complete, "
        f"{result['n_pruned']} pruned, {result['n_failed']} failed) in {result['seconds']:.1f} s"
    )
    print(
        f"best validation accuracy {result['best_value']:.4f} (trial {result['best_trial']}, epoch {config['epochs']})"
    )
    print("best params: " + ", ".join(f"{k}={_short(v)}" for k, v in result["best_params"].items()))
    if args.retrain:
        r = result["retrain"]
        print(
            f"retrained on train+val ({r['n_train']} samples, {r['epochs']} epochs): "
            f"test accuracy {r['test_accuracy']:.4f} on {r['n_test']} samples"
        )
    if args.export:
        print(f"best configuration written to {args.export} (use: xpnet train --config {args.export})")
    for path in result.get("plots", {}).values():
        print(f"plot saved to {path}")
    return 0
