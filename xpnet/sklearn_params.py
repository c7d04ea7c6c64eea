"""The scikit-learn estimators' parameters: checked under their own names, mapped to a :class:`RunConfig`.

The estimators keep scikit-learn's parameter names and defaults (``hidden_layer_sizes``,
``learning_rate_init``, ``max_iter``, ``tol``, ...) and build through the one run config;
this module is the translation, so a bad value fails at ``fit`` naming the estimator's
parameter, before any work starts.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from .clipping import check_clip
from .config import RunConfig
from .schedules import SCHEDULES
from .validation import cast_finite, check_bool, check_choice, check_int, check_positive

__all__ = [
    "batch_size_for",
    "cast_checked",
    "estimator_config",
    "refuse_non_real",
    "transactional",
    "unchanged_on_error",
]


def _hidden_layer_sizes(value: Any) -> tuple[int, ...]:
    sizes = value
    if isinstance(sizes, (numbers.Integral, np.integer)) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(
            f"hidden_layer_sizes must be an int or a tuple of ints like (100,); got {sizes!r}"
        ) from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (numbers.Integral, np.integer)) or size < 1:
            raise ValueError(f"hidden_layer_sizes={value!r}: every size must be an int >= 1")
    return tuple(int(s) for s in sizes)


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"validation_fraction must be a number in (0, 1); got {value!r}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"validation_fraction={value!r} must be in (0, 1)")
    return float(value)


def _check_random_state(value: Any) -> None:
    if value is None or isinstance(value, np.random.RandomState):
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"random_state must be None, an int or a numpy RandomState; got {value!r}")
    if not 0 <= value < 2**32:
        raise ValueError(f"random_state={value!r} is not allowed; an int random_state must be in [0, 2**32)")


def _check_verbose(value: Any) -> None:
    if isinstance(value, (bool, np.bool_)):
        return
    if not isinstance(value, numbers.Integral) or value < 0:
        raise TypeError(f"verbose must be True, False or an int >= 0; got {value!r}")


def estimator_config(est: Any) -> RunConfig:
    """Check every parameter of ``est`` (errors name the parameter) and return its :class:`RunConfig`.

    The output, loss, seed and batch size depend on the data; ``fit`` sets them with
    ``RunConfig.replace`` (until then they hold placeholders: the defaults and full batch).
    ``est`` is a Trainer-path estimator or an ``XPNetClassifier``/``XPNetRegressor``, whose
    scikit-learn names (``solver``, ``init=None``...) are translated first.
    """
    if hasattr(est, "_trainer_params"):
        est = SimpleNamespace(**est._trainer_params(np.dtype(est.dtype or "float64")))
    for flag in ("batch_norm", "shuffle", "early_stopping", "warm_start"):
        check_bool(getattr(est, flag), flag)  # a truthy string such as 'no' is not a bool
    _check_verbose(est.verbose)
    _check_random_state(est.random_state)
    check_choice(est.learning_rate, "learning_rate", SCHEDULES)
    check_positive(est.learning_rate_init, "learning_rate_init")
    check_positive(est.tol, "tol", allow_zero=True)
    check_int(est.max_iter, "max_iter")
    check_int(est.n_iter_no_change, "n_iter_no_change")
    _check_fraction(est.validation_fraction)
    if not (est.batch_size is None or est.batch_size == "auto"):
        check_int(est.batch_size, "batch_size")
    clip = check_clip(est.clip)
    return RunConfig(
        hidden=_hidden_layer_sizes(est.hidden_layer_sizes),
        activation=est.activation,
        init=est.init,
        dropout=est.dropout,
        batch_norm=bool(est.batch_norm),
        optimizer=est.optimizer,
        lr=float(est.learning_rate_init),
        momentum=est.momentum,
        weight_decay=est.weight_decay,
        schedule=est.learning_rate,
        warmup_epochs=0,  # a schedule starts at once (RunConfig's cosine default warms up)
        step_size=None,
        gamma=None,
        eta_min=0.0,
        schedule_patience=10,
        clip=None if clip is None else clip[0],
        clip_value=1.0 if clip is None else clip[1],
        batch_size=0,
        epochs=int(est.max_iter),
        shuffle=bool(est.shuffle),
        track_grad_norm=False,  # saves a reduction per batch; the sklearn API does not expose it
        patience=int(est.n_iter_no_change),
        min_delta=float(est.tol),
        restore_best=bool(est.early_stopping),
        track_min=True,  # scikit-learn's tol rule: the best value follows the running minimum
        backend=est.backend,
        device=est.device,
        dtype=est.dtype,
        seed=0,
    )


def batch_size_for(batch_size: int | str | None, n: int) -> int | None:
    """The estimators' batch size for ``n`` samples: ``"auto"`` is ``min(200, n)`` as in MLPClassifier,
    ``None`` full batch (returned as None)."""
    if batch_size == "auto":
        return min(200, n)
    return None if batch_size is None else min(int(batch_size), n)


_ARRAY_LISTS = ("coefs_", "intercepts_")  # updated in place by scikit-learn's algorithm on NumPy


@contextlib.contextmanager
def unchanged_on_error(est: Any) -> Iterator[None]:
    """Put a ``fit``/``partial_fit`` refused (or failed) inside the block back: the estimator keeps
    every attribute it had (``classes_``, ``n_features_in_``, the fitted model) and an unfitted
    one stays unfitted, so ``predict`` raises ``NotFittedError``.

    The attributes are restored from a shallow copy; the arrays scikit-learn's algorithm updates
    in place (``coefs_``, ``intercepts_``) from copies. A ``KeyboardInterrupt`` keeps what was trained.
    """
    saved = dict(vars(est))
    arrays = {k: [np.array(a, copy=True) for a in saved[k]] for k in _ARRAY_LISTS if k in saved}
    try:
        yield
    except Exception:
        vars(est).clear()
        vars(est).update(saved)
        for key, copies in arrays.items():
            for array, copy in zip(saved[key], copies, strict=True):
                array[...] = copy
        raise


def transactional(method):
    """A ``fit``-like method run under :func:`unchanged_on_error`: validate everything, then change state."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with unchanged_on_error(self):
            return method(self, *args, **kwargs)

    return wrapper


def cast_checked(X: Any, dtype: Any, name: str = "X") -> Any:
    """``X`` (an array or a scipy sparse matrix) in ``dtype``, finite after the cast (see ``cast_finite``)."""
    if hasattr(X, "tocsr"):  # scipy sparse: the stored values are what the cast can overflow
        cast_finite(X.data, dtype, name)
        return X.astype(dtype, copy=False)
    return cast_finite(X, dtype, name)


def refuse_non_real(X: Any, name: str = "X") -> None:
    """``TypeError`` for timedelta or datetime data, which scikit-learn's validation would cast to float
    silently (a timedelta becomes its count of units), ``ValueError`` for complex data, both naming
    ``name``; other input is left to scikit-learn's validation."""
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, (list, tuple)):
        with contextlib.suppress(Exception):  # ragged or odd lists: scikit-learn's validation refuses them
            dtype = np.asarray(X).dtype
    kind = getattr(dtype, "kind", None)
    if kind == "c":  # scikit-learn's convention for complex data: a ValueError saying so
        raise ValueError(f"Complex data not supported: {name} must hold real numbers; got dtype {dtype}")
    if kind in ("m", "M"):
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got dtype {dtype}")
