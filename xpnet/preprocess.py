"""What a model needs besides its weights to predict on raw data: scaling, labels, names, task.

A :class:`Preprocessor` is fitted on the training split (``xpnet.data`` does it), saved in the
model file beside the weights (plain arrays and JSON, no pickle), and held by a loaded
:class:`~xpnet.MLP`, whose ``predict`` then takes raw features and returns class labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TASKS = ("classification", "regression")


@dataclass
class Preprocessor:
    """Standardization ``(X - mean) / scale``, the class labels, the feature names and the task.

    ``mean``/``scale`` may be None (no scaling); ``classes`` is None for regression, else the
    label of each output class in order (strings or ints); ``feature_names`` may be None.
    """

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    classes: list | None = None
    feature_names: list[str] | None = None
    task: str = "classification"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r} must be one of {', '.join(TASKS)}")
        if (self.mean is None) != (self.scale is None):
            raise ValueError("mean and scale must both be given or both be None")
        if self.mean is not None:
            self.mean = np.asarray(self.mean, dtype=np.float64)
            self.scale = np.asarray(self.scale, dtype=np.float64)

    @classmethod
    def fit(cls, X, classes=None, feature_names=None, task: str = "classification") -> Preprocessor:
        """Fit the scaling on training features ``X`` (scikit-learn's ``StandardScaler``, bit for bit)."""
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(np.asarray(X, dtype=np.float64))
        return cls(scaler.mean_, scaler.scale_, _plain(classes), _names(feature_names), task)

    @property
    def n_features(self) -> int | None:
        if self.mean is not None:
            return int(self.mean.shape[0])
        return None if self.feature_names is None else len(self.feature_names)

    def transform(self, X) -> np.ndarray:
        """``X`` (host, float64) scaled as the training data was; a copy."""
        X = np.array(X, dtype=np.float64, copy=True)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (samples, features); got shape {X.shape}")
        if self.mean is None:
            return X
        if X.shape[1] != self.mean.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features; the model was trained on {self.mean.shape[0]}")
        X -= self.mean
        X /= self.scale
        return X

    def labels(self, indices) -> np.ndarray:
        """Class labels of class indices (the indices themselves when no labels are known)."""
        indices = np.asarray(indices)
        if self.classes is None:
            return indices
        return np.asarray(self.classes)[indices]

    # --- storage in a model file ------------------------------------------------------------
    def to_meta(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(JSON metadata, arrays)`` to store in a model file."""
        arrays = {} if self.mean is None else {"preprocess/mean": self.mean, "preprocess/scale": self.scale}
        meta = {"classes": self.classes, "feature_names": self.feature_names, "task": self.task}
        return meta, arrays

    @classmethod
    def from_meta(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Preprocessor:
        return cls(
            arrays.get("preprocess/mean"),
            arrays.get("preprocess/scale"),
            meta.get("classes"),
            meta.get("feature_names"),
            meta.get("task", "classification"),
        )


def _plain(classes) -> list | None:
    """Labels as JSON-ready Python values (NumPy ints/strings become int/str)."""
    return None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]


def _names(names) -> list[str] | None:
    return None if names is None else [str(n) for n in names]
