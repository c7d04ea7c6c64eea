"""The study: settings a worker needs to rebuild it, its sampler and pruner, and a resume check."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..backend import BACKENDS
from ..config import RunConfig
from ..data import DATASETS
from ..validation import check_int
from .space import CHOICE_FIELDS, SearchSpace
from .storage import open_storage

PRUNERS = ("median", "successive_halving", "hyperband", "none")


@dataclasses.dataclass
class TuneSettings:
    """Everything a worker process needs to rebuild the study and the objective (picklable)."""

    dataset: str = "digits"
    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    epochs: int = 30
    backend: str = RunConfig.backend
    device: Any = RunConfig.device
    dtype: str = RunConfig.dtype
    seed: int = RunConfig.seed
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
    batch: int = 1  # trials asked and trained together (xpnet.tune.batch); 1: one at a time, study.optimize
    data: str | None = None  # a data file of your own (xpnet tune --data) instead of ``dataset``
    target: str | None = None  # its target column (default: the last one)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset={self.dataset!r} is unknown; choose one of {', '.join(DATASETS)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
        if not isinstance(self.space, SearchSpace):
            raise TypeError(f"space must be an xpnet.tune.SearchSpace; got {type(self.space).__name__}")
        self.epochs = check_int(self.epochs, "epochs")
        if self.report_every is None:
            self.report_every = max(1, self.epochs // 10)
        self.report_every = check_int(self.report_every, "report_every")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner={self.pruner!r} is unknown; choose one of {', '.join(PRUNERS)}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout={self.timeout!r} must be a positive number of seconds")
        if not 0.0 < self.val_size < 1.0:
            raise ValueError(
                f"val_size={self.val_size!r} must be in (0, 1): tuning scores the validation split"
            )
        if self.threads is not None:
            self.threads = check_int(self.threads, "threads")
        self.batch = check_int(self.batch, "batch")
        if self.target is not None and self.data is None:
            raise ValueError("target applies to data=FILE (--target needs --data)")
        if self.progress not in (None, "stdout", "stderr"):
            raise ValueError(f"progress={self.progress!r} must be 'stdout', 'stderr' or None")

    def base_config(self) -> RunConfig:
        """The run every trial starts from: the defaults, on these epochs, backend, device, dtype and seed."""
        return RunConfig(
            epochs=self.epochs, backend=self.backend, device=self.device, dtype=self.dtype, seed=self.seed
        )

    def study_name_or_default(self) -> str:
        """The study's name: ``--study-name``, else ``xpnet-DATASET`` (``xpnet-STEM`` of a ``--data`` file)."""
        return self.study_name or f"xpnet-{Path(self.data).stem if self.data else self.dataset}"

    def load_data(self, val_size: float | None = None):
        """The :class:`~xpnet.data.Dataset` trials train on: the bundled ``dataset``, or the ``data`` file's
        rows (a classification target: trials are scored by validation accuracy), split by ``seed``."""
        from ..data import load_dataset, load_file, split_table

        val_size = self.val_size if val_size is None else val_size
        if self.data is None:
            return load_dataset(self.dataset, test_size=self.test_size, val_size=val_size, seed=self.seed)
        table = load_file(self.data, target=self.target)
        if table.task != "classification":
            raise ValueError(
                f"--data {self.data}: the target {table.target or 'column'!s} looks numeric (regression); "
                "xpnet tune scores trials by validation accuracy and needs class labels"
            )
        return split_table(table, Path(self.data).name, self.test_size, val_size, self.seed)


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
    check_resumable(study, settings.space)
    return study


def check_resumable(study, space: SearchSpace) -> None:
    """Refuse, before any trial runs, a space whose choices differ from a resumed study's (Optuna would fail every trial)."""
    seen: dict[str, tuple] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            if name in CHOICE_FIELDS:
                seen.setdefault(name, tuple(dist.choices))
        if len(seen) == len(CHOICE_FIELDS):
            break
    for name, choices in seen.items():
        if choices != tuple(getattr(space, name)):
            raise ValueError(
                f"study {study.study_name!r} searched {name} over {list(choices)}; this space has "
                f"{list(getattr(space, name))}: use the same choices or a new --study-name"
            )
