"""Checks at the boundary: bad input fails here, with a message, before any work starts."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

from .backend import FLOAT_DTYPES, backend_of


def to_host(x: Any, name: str = "X") -> np.ndarray:
    """Any array (NumPy, CuPy, torch, array-api-strict, list) as a host NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_array_api_obj(x):
        return backend_of(x).to_numpy(x)
    try:
        return np.asarray(x)
    except Exception as exc:
        raise TypeError(f"{name} must be array-like; got {type(x).__name__}") from exc


def check_dtype(dtype: Any) -> str:
    """Normalize ``dtype`` to 'float32' or 'float64', or raise ``TypeError``."""
    name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", str(dtype))
    try:
        name = np.dtype(name).name
    except TypeError:  # e.g. torch.float32
        name = str(name).rsplit(".", 1)[-1]
    if name not in FLOAT_DTYPES:
        raise TypeError(f"dtype={dtype!r} is not allowed; use 'float32' or 'float64'")
    return name


def check_choice(value: Any, name: str, allowed) -> str:
    """``value`` must be one of ``allowed`` (strings)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown; choose one of {', '.join(allowed)}")
    return value


def check_positive(value: Any, name: str, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} is not allowed; it must be finite and {bound}")
    return value


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be >= {minimum}")
    return int(value)


def check_features(X: Any, n_features: int | None = None, name: str = "X") -> np.ndarray:
    """A non-empty, finite, 2-D float host array with ``n_features`` columns."""
    X = to_host(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the network's input layer expects {n_features}"
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{name} must be numeric; got dtype {X.dtype}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")
    return X


def encode_targets(y: Any, n_samples: int, n_outputs: int, loss: str, name: str = "y") -> np.ndarray:
    """Targets as a float ``(n, n_outputs)`` host array: one-hot from class indices, or as given.

    Class indices are accepted for the classification losses, and for ``mse`` when the
    network has several outputs (the article's sigmoid + MSE on one-hot digits).
    """
    y = to_host(y, name)
    if y.shape[:1] != (n_samples,):
        raise ValueError(f"X and {name} have different lengths: {n_samples} and {len(y)}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise TypeError(f"{name} must be numeric; got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or inf")
    if y.ndim == 2 and y.shape[1] == 1 and n_outputs == 1:
        y = y[:, 0]
    if y.ndim == 1 and (loss != "mse" or n_outputs > 1):
        return _one_hot(y, n_outputs, name)
    if y.ndim == 1:  # regression with one output
        return y.astype(np.float64).reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(
            f"{name} must be class indices (n,) or an (n, {n_outputs}) array matching the "
            f"output layer; got shape {y.shape}"
        )
    y = y.astype(np.float64)
    if loss in ("log_loss", "categorical_crossentropy") and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{name} must hold probabilities in [0, 1] for loss={loss!r}")
    if loss == "categorical_crossentropy" and not np.allclose(y.sum(axis=1), 1.0):
        raise ValueError(f"{name} rows must sum to 1 (one-hot or probabilities) for loss={loss!r}")
    return y


def _one_hot(y: np.ndarray, n_outputs: int, name: str) -> np.ndarray:
    if not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"{name} must hold integer class labels; got non-integer values")
    labels = y.astype(np.int64)
    n_classes = 2 if n_outputs == 1 else n_outputs
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name} has labels out of range [{labels.min()}, {labels.max()}]; the network's "
            f"{n_outputs} output(s) allow labels 0..{n_classes - 1}"
        )
    if n_outputs == 1:  # binary: one sigmoid unit, target is the label itself
        return labels.astype(np.float64).reshape(-1, 1)
    out = np.zeros((labels.shape[0], n_outputs))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def check_layer_sizes(layers: Any) -> list[int]:
    """A list of at least two integer widths >= 1 (inputs first, outputs last)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of layer sizes like [64, 128, 10]; got {layers!r}")
    layers = list(layers)
    if len(layers) < 2:
        raise ValueError(f"layers={layers!r} needs at least two sizes (inputs and outputs)")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"layers={layers!r}: every size must be an integer >= 1")
    return [int(s) for s in layers]


def check_dropout(dropout: Any) -> float:
    """A dropout rate in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(f"dropout must be a number in [0, 1); got {dropout!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} is not allowed; it must be in [0, 1)")
    return float(dropout)
