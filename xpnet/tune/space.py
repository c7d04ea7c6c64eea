"""The search space: which hyperparameters Optuna draws, over which ranges, loaded from Python, JSON or YAML."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from ..activations import HIDDEN
from ..clipping import CLIP_KINDS
from ..initializers import INITIALIZERS
from ..optim import OPTIMIZERS

CLIP_CHOICES = (*CLIP_KINDS, "none")

# field -> kind: "int" / "float" / "logfloat" are (low, high) ranges, "choice" a tuple of options
KINDS = {
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
CHOICE_FIELDS = tuple(name for name, kind in KINDS.items() if kind == "choice")
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
        for name, kind in KINDS.items():
            value = getattr(self, name)
            checked = _check_choices(name, value) if kind == "choice" else _check_range(name, kind, value)
            object.__setattr__(self, name, checked)

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: SearchSpace | None = None) -> SearchSpace:
        """``base`` (default: the default space) with the ranges in ``values`` replaced."""
        if not isinstance(values, dict):
            raise TypeError(
                f"a search space must be a mapping of parameter -> range; got {type(values).__name__}"
            )
        unknown = sorted(set(values) - set(KINDS))
        if unknown:
            raise ValueError(
                f"search space: unknown parameter(s) {', '.join(map(str, unknown))}; allowed: {', '.join(KINDS)}"
            )
        return dataclasses.replace(base or cls(), **values)

    @classmethod
    def from_file(cls, path: str | os.PathLike, base: SearchSpace | None = None) -> SearchSpace:
        """Overrides read from a JSON file, or a YAML one (``.yaml``/``.yml``, needs PyYAML)."""
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"space={str(path)!r} cannot be read: {exc}") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:  # pragma: no cover - PyYAML comes with optuna
                raise ImportError(
                    f"space={str(path)!r}: reading YAML needs PyYAML (pip install pyyaml)"
                ) from None
            try:
                values = yaml.safe_load(text)
            except (yaml.YAMLError, RecursionError) as exc:
                detail = " ".join(str(exc).split())
                raise ValueError(f"space={str(path)!r} is not valid YAML: {detail}") from None
        else:
            try:
                values = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise ValueError(f"space={str(path)!r} is not valid JSON: {exc}") from None
        try:
            return cls.from_dict(values or {}, base)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"space={str(path)!r}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The space as plain lists (JSON- and YAML-ready)."""
        return {name: list(getattr(self, name)) for name in KINDS}

    def suggest(self, trial) -> dict[str, Any]:
        """Draw one configuration from ``trial``, keyed as ``xpnet train``'s options (and RunConfig's fields)."""
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


def _check_choices(name: str, value: Any) -> tuple:
    """A choice field as a non-empty tuple of allowed options."""
    options = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not options:
        raise ValueError(f"search space: {name} needs at least one choice")
    allowed = _ALLOWED.get(name)
    for option in options:
        if name == "batch_size":
            if isinstance(option, bool) or not isinstance(option, int) or option < 1:
                raise ValueError(f"search space: batch_size choices must be integers >= 1; got {option!r}")
        elif option not in allowed or (name == "batch_norm") != isinstance(option, bool):
            raise ValueError(
                f"search space: {name}={option!r} is not allowed; choose from {', '.join(map(str, allowed))}"
            )
    return options


def _check_range(name: str, kind: str, value: Any) -> tuple:
    """A range field as a ``(low, high)`` pair of numbers within the parameter's domain."""
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
    """One parameter drawn from ``trial`` by its kind."""
    if kind == "choice":
        return trial.suggest_categorical(name, list(spec))
    low, high = spec
    if kind == "int":
        return trial.suggest_int(name, low, high)
    return trial.suggest_float(name, low, high, log=kind == "logfloat" and low < high)
