"""One run config: every setting of a training run, one set of defaults, and the builder.

:class:`RunConfig` is what ``xpnet train``, ``xpnet tune``, the scikit-learn estimators and
the benchmarks build a network, optimizer, schedule, trainer and early stopping from, so
"the default run" means the same thing everywhere. It is frozen, validates itself on
construction, and round-trips through JSON (``xpnet train --config run.json`` reads it)::

    cfg = RunConfig(hidden=(256, 128), optimizer="sgd", lr=0.05)
    net, trainer, stopping = cfg.build(n_features=64, n_outputs=cfg.n_outputs(10))
    trainer.fit(X, y, epochs=cfg.epochs, early_stopping=stopping)
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .activations import HIDDEN, OUTPUT
from .backend import BACKENDS
from .clipping import CLIP_KINDS
from .initializers import INITIALIZERS
from .losses import LOSSES
from .network import MLP
from .optim import OPTIMIZERS, Optimizer, make_optimizer
from .schedules import SCHEDULES, make_schedule
from .training import EarlyStopping, Trainer
from .validation import check_bool, check_choice, check_dropout, check_dtype, check_int, check_positive

__all__ = ["COSINE_ADAM_LR", "RUN_FIELDS", "Run", "RunConfig", "parse_hidden"]

# Adam's peak rate under schedule="cosine" when no lr is given: the warm-up and the annealing
# tolerate a rate 10x the constant-rate default, and on digits it generalizes better (issue 3).
COSINE_ADAM_LR = 1e-2

# What each field may hold. Choices are the library's own name tuples; numbers give a lower
# bound (ints) or whether zero is allowed (reals); "optional" fields also take None.
_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": tuple(HIDDEN),
    "output": tuple(OUTPUT),
    "init": INITIALIZERS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "backend": BACKENDS,
}
_BOOLS = ("batch_norm", "restore_best", "track_min", "shuffle", "track_grad_norm")
_INTS = {"schedule_patience": 0, "batch_size": 0, "epochs": 1, "patience": 0, "seed": 0}
_OPTIONAL_INTS = {"warmup_epochs": 0, "step_size": 1}
_REALS = {"momentum": True, "weight_decay": True, "eta_min": True, "clip_value": False, "min_delta": True}
_OPTIONAL_REALS = {"lr": False, "gamma": False}


def _default(func: Any, name: str) -> Any:
    """The default of ``func``'s parameter ``name``: RunConfig's defaults are the Python API's."""
    return inspect.signature(func).parameters[name].default


class Run(NamedTuple):
    """What :meth:`RunConfig.build` returns: the network, its trainer and the early stopping (or None)."""

    net: MLP
    trainer: Trainer
    early_stopping: EarlyStopping | None


def parse_hidden(value: Any) -> tuple[int, ...]:
    """Hidden sizes as a tuple of ints >= 1, from a sequence, one int, or text like ``"128,64"``."""
    if isinstance(value, str):
        try:
            sizes: Any = [int(s) for s in value.split(",") if s.strip()]
        except ValueError:
            raise ValueError(
                f"hidden must be comma-separated integers, e.g. '128,64'; got {value!r}"
            ) from None
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = [value]
    else:
        try:
            sizes = list(value)
        except TypeError:
            raise TypeError(
                f"hidden must be a sequence of ints like (128, 64) or text like '128,64'; got {value!r}"
            ) from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"hidden={value!r} is not allowed: every size must be an integer >= 1")
    return tuple(int(s) for s in sizes)


def _checked(name: str, value: Any) -> Any:
    """``value`` for field ``name``, normalized, or a ValueError/TypeError naming the field."""
    if name in _CHOICES:
        return check_choice(value, name, _CHOICES[name])
    if name in _BOOLS:
        return check_bool(value, name)
    if name in _INTS or name in _OPTIONAL_INTS:
        minimum = _INTS.get(name, _OPTIONAL_INTS.get(name))
        return None if value is None and name in _OPTIONAL_INTS else check_int(value, name, minimum)
    if name in _REALS or name in _OPTIONAL_REALS:
        allow_zero = _REALS.get(name, _OPTIONAL_REALS.get(name))
        return None if value is None and name in _OPTIONAL_REALS else check_positive(value, name, allow_zero)
    return _checked_special(name, value)


def _checked_special(name: str, value: Any) -> Any:
    if name == "hidden":
        return parse_hidden(value)
    if name == "dropout":
        return check_dropout(value)
    if name == "clip":
        return None if value is None else check_choice(value, "clip", CLIP_KINDS)
    if name == "dtype":
        return check_dtype(value)
    if name == "device":
        if isinstance(value, bool):
            raise TypeError(f"device must be None, a device name like 'cuda:0' or an index; got {value!r}")
        return value
    raise AssertionError(f"RunConfig field {name!r} has no check")  # a new field without a rule


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run (network, training, early stopping, backend); ``xpnet train``'s defaults.

    Field names are ``xpnet train``'s option names (``--batch-size`` is ``batch_size``).
    The defaults are read from :class:`MLP`, :class:`Trainer`, ``Trainer.fit``,
    :class:`EarlyStopping` and :func:`make_optimizer`, so ``MLP(...)``, ``Trainer(net)`` and
    ``fit(..., early_stopping=EarlyStopping())`` train the run ``xpnet train`` trains.
    ``lr=None`` is the optimizer's default (``COSINE_ADAM_LR`` for adam/adamw under
    ``schedule="cosine"``); ``warmup_epochs=None`` is ``epochs // 10`` for cosine, else 0;
    ``batch_size=0`` is full batch; ``patience=0`` disables early stopping; ``clip=None``
    disables clipping (else ``clip_value`` is the threshold). Invalid values raise
    ``ValueError``/``TypeError`` naming the field.
    """

    # network
    hidden: tuple[int, ...] = (128,)
    activation: str = _default(MLP, "activation")
    output: str = _default(MLP, "output")
    init: str = _default(MLP, "init")
    dropout: float = _default(MLP, "dropout")
    batch_norm: bool = _default(MLP, "batch_norm")
    # loss, optimizer and learning-rate schedule
    loss: str = _default(Trainer, "loss")
    optimizer: str = _default(Trainer, "optimizer")
    lr: float | None = None
    momentum: float = _default(make_optimizer, "momentum")
    weight_decay: float = _default(make_optimizer, "weight_decay")
    schedule: str = "constant"
    warmup_epochs: int | None = None
    step_size: int | None = None
    gamma: float | None = None
    eta_min: float = 0.0
    schedule_patience: int = 10
    # the training loop
    clip: str | None = None
    clip_value: float = 1.0
    batch_size: int = _default(Trainer, "batch_size")
    epochs: int = _default(Trainer.fit, "epochs")
    shuffle: bool = _default(Trainer, "shuffle")
    track_grad_norm: bool = _default(Trainer, "track_grad_norm")
    # early stopping
    patience: int = _default(EarlyStopping, "patience")
    min_delta: float = _default(EarlyStopping, "min_delta")
    restore_best: bool = _default(EarlyStopping, "restore_best")
    track_min: bool = _default(EarlyStopping, "track_min")
    # where it runs
    backend: str = _default(MLP, "backend")
    device: Any = _default(MLP, "device")
    dtype: str = _default(MLP, "dtype")
    seed: int = _default(MLP, "seed")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _checked(f.name, getattr(self, f.name)))
        if self.schedule == "plateau" and self.warmup_epochs:
            raise ValueError(
                f"warmup_epochs={self.warmup_epochs} is not supported with schedule='plateau'; use 0 or None"
            )

    # --- copies and files ----------------------------------------------------------------
    def replace(self, **changes: Any) -> RunConfig:
        """A validated copy with ``changes`` applied (unknown names raise ``ValueError``)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict (``hidden`` as a list)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        """A config from a mapping of field values (missing ones take the defaults)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"a run config must be a mapping of field values; got {type(d).__name__}")
        _check_names(d)
        return cls(**d)

    def to_json(self, indent: int | None = 2) -> str:
        """The config as a JSON object (what :meth:`from_json` and ``xpnet train --config`` read)."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> RunConfig:
        """A config from JSON text (a str starting with ``{`` or ``[``) or from a JSON file's path."""
        text = text_or_path
        if isinstance(text, os.PathLike) or str(text).lstrip()[:1] not in ("{", "["):
            text = Path(text).read_text()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"run config is not valid JSON: {exc}") from None
        return cls.from_dict(values)

    # --- derived values --------------------------------------------------------------------
    def n_outputs(self, n_classes: int) -> int:
        """Output units for ``n_classes`` classes: one sigmoid unit for two classes, else one per class."""
        return 1 if (n_classes == 2 and self.output == "sigmoid") else n_classes

    def resolved_lr(self) -> float | None:
        """The learning rate to build with (None: the optimizer's own default)."""
        if self.lr is None and self.schedule == "cosine" and self.optimizer in ("adam", "adamw"):
            return COSINE_ADAM_LR
        return self.lr

    def resolved_warmup(self) -> int:
        """Warm-up epochs to build with: ``warmup_epochs``, else ``epochs // 10`` for cosine, else 0."""
        if self.warmup_epochs is not None:
            return self.warmup_epochs
        return self.epochs // 10 if self.schedule == "cosine" else 0

    # --- builders ------------------------------------------------------------------------
    def build_network(self, n_features: int, n_outputs: int) -> MLP:
        """A fresh :class:`MLP` ``[n_features, *hidden, n_outputs]`` initialized from ``seed``."""
        return MLP(
            [n_features, *self.hidden, n_outputs],
            activation=self.activation,
            output=self.output,
            init=self.init,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            backend=self.backend,
            device=self.device,
            dtype=self.dtype,
            seed=self.seed,
        )

    def build_optimizer(self) -> Optimizer:
        """The optimizer with its learning rate, momentum and weight decay."""
        return make_optimizer(
            self.optimizer, self.resolved_lr(), momentum=self.momentum, weight_decay=self.weight_decay
        )

    def build_schedule(self, optimizer: Optimizer):
        """The learning-rate schedule driving ``optimizer`` (None: a constant rate without warm-up)."""
        warmup = self.resolved_warmup()
        if self.schedule == "constant" and not warmup:
            return None
        return make_schedule(
            self.schedule,
            optimizer,
            epochs=self.epochs,
            warmup_epochs=warmup,
            step_size=self.step_size,
            gamma=self.gamma,
            eta_min=self.eta_min,
            patience=self.schedule_patience,
        )

    def build_trainer(self, net: MLP, optimizer: Optimizer | None = None) -> Trainer:
        """A :class:`Trainer` for ``net`` (a new optimizer unless one is given to continue with)."""
        if optimizer is None:
            optimizer = self.build_optimizer()
        return Trainer(
            net,
            loss=self.loss,
            optimizer=optimizer,
            batch_size=self.batch_size or None,
            shuffle=self.shuffle,
            clip=(self.clip, self.clip_value) if self.clip else None,
            seed=self.seed,
            schedule=self.build_schedule(optimizer),
            track_grad_norm=self.track_grad_norm,
        )

    def build_early_stopping(self) -> EarlyStopping | None:
        """The early stopping rule (None when ``patience`` is 0)."""
        if not self.patience:
            return None
        return EarlyStopping(
            patience=self.patience,
            min_delta=self.min_delta,
            restore_best=self.restore_best,
            track_min=self.track_min,
        )

    def build(self, n_features: int, n_outputs: int) -> Run:
        """The network, trainer and early stopping of this run, ready for ``trainer.fit``."""
        net = self.build_network(n_features, n_outputs)
        return Run(net, self.build_trainer(net), self.build_early_stopping())

    def fit_kwargs(self) -> dict[str, Any]:
        """``Trainer.fit`` keyword arguments this config sets: ``epochs`` and a fresh ``early_stopping``."""
        return {"epochs": self.epochs, "early_stopping": self.build_early_stopping()}


RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunConfig))


def _check_names(d: Mapping[str, Any]) -> None:
    unknown = sorted(set(d) - set(RUN_FIELDS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ValueError(f"unknown run config field(s) {names}; the fields are {', '.join(RUN_FIELDS)}")
