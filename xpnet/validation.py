"""Checks at the boundary: bad input fails here, with a message, before any work starts."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import array_api_compat
import numpy as np

from .backend import FLOAT_DTYPES, backend_of
from .random import check_seed

__all__ = [
    "cast_finite",
    "check_bool",
    "check_features",
    "check_finite_outputs",
    "check_input",
    "check_seed",
    "encode_targets",
    "real_array",
]

# dtype kinds a feature or target array may have: bool, signed and unsigned integers, floats (not
# complex 'c', timedelta 'm' (which NumPy counts as a number), datetime 'M', object, strings)
REAL_KINDS = "biuf"


def to_host(x: Any, name: str = "X") -> np.ndarray:
    """Any array (NumPy, CuPy, torch, array-api-strict, list) as a host NumPy array."""
    if x is None:
        raise TypeError(f"{name} is None; it must be an array")
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
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} is not allowed; it must be finite and {bound}")
    return value


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be >= {minimum}")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (NumPy's bools too); a truthy string such as ``'no'`` is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def real_array(x: Any, name: str = "X") -> np.ndarray:
    """``x`` as a host array of real numbers (bool, int or float): complex, timedelta, datetime,
    object and string arrays are refused with a ``TypeError`` naming ``name``."""
    x = to_host(x, name)
    if x.dtype.kind not in REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got dtype {x.dtype}")
    return x


def cast_finite(x: np.ndarray, dtype: Any, name: str = "X") -> np.ndarray:
    """Host array ``x`` cast to ``dtype``, checked finite *after* the cast.

    A finite float64 value beyond float32's range (``1e39``) becomes inf in the cast; checking
    before it would let that through. ``ValueError`` names ``name`` and says which case it is.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(x, dtype=dtype)
    finite = np.isfinite(out) if out.dtype.kind == "f" else True
    if np.all(finite):
        return out
    bad = ~np.asarray(finite)
    if np.all(np.isfinite(np.asarray(x, dtype=np.float64)[bad])):
        limit = float(np.finfo(out.dtype).max)
        raise ValueError(
            f"{name} has {int(bad.sum())} value(s) beyond {out.dtype}'s range (|value| > {limit:.3g}), "
            f"which become inf in {out.dtype}; rescale the data or use dtype='float64'"
        )
    raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")


def check_features(X: Any, n_features: int | None = None, name: str = "X", dtype: Any = None) -> np.ndarray:
    """A non-empty, 2-D host array of real numbers with ``n_features`` columns, cast to ``dtype``
    (default float64) and finite in it."""
    X = real_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the network's input layer expects {n_features}"
        )
    return cast_finite(X, dtype or np.float64, name)


def check_input(X: Any, backend, dtype: str, n_features: int | None = None, name: str = "X"):
    """``X`` checked and on ``backend``'s device in ``dtype``: every entry point's one input check.

    A host array (or another library's) is checked by :func:`check_features` after the cast to
    ``dtype`` ('float32' or 'float64'); an array already on the device in it (a float32 torch tensor for a float32
    network) is checked there, with one device->host sync of a single flag. NaN, inf and values
    that overflow ``dtype`` raise ``ValueError`` naming ``name``, before any work.
    """
    xp, want = backend.xp, backend.dtype(dtype)
    if _on_device(X, backend, want):
        if X.ndim != 2 or X.shape[0] == 0 or (n_features is not None and X.shape[1] != n_features):
            wanted = f"(n >= 1, {n_features})" if n_features is not None else "(n >= 1, n_features)"
            raise ValueError(f"{name} has shape {tuple(X.shape)}; the network expects {wanted}")
        if not backend.item(xp.astype(xp.all(xp.isfinite(X)), xp.float32)):
            raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")
        return X
    return backend.asarray(check_features(X, n_features, name, dtype=dtype), dtype=want)


_SAME_LIBRARY = {
    "numpy": array_api_compat.is_numpy_namespace,
    "torch": array_api_compat.is_torch_namespace,
    "cupy": array_api_compat.is_cupy_namespace,
    "array_api_strict": lambda ns: ns.__name__ == "array_api_strict",
}


def _on_device(x: Any, backend, dtype) -> bool:
    """Whether ``x`` is already an array of ``backend``'s library on its device, in ``dtype``."""
    try:
        ns = array_api_compat.array_namespace(x)
        return (
            _SAME_LIBRARY[backend.name](ns)
            and x.dtype == dtype
            and str(array_api_compat.device(x)) == str(backend.device)
        )
    except Exception:  # noqa: BLE001 - lists, odd objects: the checked host path takes them
        return False


def check_finite_outputs(out: np.ndarray, name: str = "X") -> np.ndarray:
    """Host network outputs, refused when not finite: inputs too large for the dtype (finite, yet the
    products overflow) or non-finite weights would otherwise give a silent wrong prediction."""
    if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        rows = np.flatnonzero(~np.all(np.isfinite(out.reshape(out.shape[0], -1)), axis=1))
        raise ValueError(
            f"{name}: the network's outputs are NaN or inf for {rows.size} row(s) (first: row {rows[0]}); "
            "the inputs are too large for the network's dtype, or its weights are not finite"
        )
    return out


def encode_targets(
    y: Any, n_samples: int, n_outputs: int, loss: str, name: str = "y", dtype: Any = np.float64
) -> np.ndarray:
    """Targets as a ``dtype`` ``(n, n_outputs)`` host array: one-hot from class indices, or as given.

    Class indices are accepted for the classification losses, and for ``mse`` when the
    network has several outputs (the article's sigmoid + MSE on one-hot digits). Values are
    checked finite after the cast to ``dtype`` (a regression target of 1e39 overflows float32).
    """
    y = real_array(y, name)
    if y.ndim == 0 or y.shape[0] != n_samples:
        got = "a scalar" if y.ndim == 0 else f"{y.shape[0]} rows"
        raise ValueError(f"X and {name} have different lengths: {n_samples} samples and {got}")
    y = cast_finite(y, np.float64, name)
    if y.ndim == 2 and y.shape[1] == 1 and n_outputs == 1:
        y = y[:, 0]
    if y.ndim == 1 and (loss != "mse" or n_outputs > 1):
        return cast_finite(_one_hot(y, n_outputs, name), dtype, name)
    if y.ndim == 1:  # regression with one output
        return cast_finite(y.reshape(-1, 1), dtype, name)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(
            f"{name} must be class indices (n,) or an (n, {n_outputs}) array matching the "
            f"output layer; got shape {y.shape}"
        )
    if loss in ("log_loss", "categorical_crossentropy") and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{name} must hold probabilities in [0, 1] for loss={loss!r}")
    if loss == "categorical_crossentropy" and not np.allclose(y.sum(axis=1), 1.0):
        raise ValueError(f"{name} rows must sum to 1 (one-hot or probabilities) for loss={loss!r}")
    return cast_finite(y, dtype, name)


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
    """A dropout rate in [0, 1): any real number type (NumPy scalars such as ``np.float32(0.2)`` too)."""
    if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a number in [0, 1); got {dropout!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} is not allowed; it must be in [0, 1)")
    return float(dropout)


def check_sequence_of(items: Any, cls: type, name: str) -> list:
    """``items`` as a non-empty list of ``cls`` instances, or a ``TypeError``/``ValueError`` naming ``name``."""
    what = f"xpnet.{cls.__name__}"
    if isinstance(items, (cls, str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"{name} must be a sequence of {what}; got {type(items).__name__}")
    items = list(items)
    if not items:
        raise ValueError(f"{name} must hold at least one {what}; got an empty sequence")
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            raise TypeError(f"{name}[{i}] must be an {what}; got {type(item).__name__}")
    return items
