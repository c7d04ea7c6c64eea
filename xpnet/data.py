"""Bundled datasets (scikit-learn's) and a synthetic generator, split and scaled.

Splits are stratified; the feature scaler is fitted on the training part only, so no
statistic of the validation or test data leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocess import Preprocessor
from .tabular import Table, load_file

__all__ = ["DATASETS", "Dataset", "Preprocessor", "Table", "load_dataset", "load_file", "split_table"]

DATASETS = ("digits", "iris", "wine", "breast_cancer", "synthetic")
# The split of every run: load_dataset's, split_table's and xpnet train/tune's defaults.
VAL_SIZE = 0.1
TEST_SIZE = 0.2


def add_split_arguments(group) -> None:
    """``--dataset``, ``--val-size`` and ``--test-size`` on an argparse group (``train`` and ``tune`` share them)."""
    group.add_argument(
        "--dataset", default="digits", choices=DATASETS, help="a bundled dataset (default digits)"
    )
    group.add_argument(
        "--val-size", type=float, default=VAL_SIZE, help=f"validation fraction (default {VAL_SIZE})"
    )
    group.add_argument(
        "--test-size", type=float, default=TEST_SIZE, help=f"test fraction (default {TEST_SIZE})"
    )


@dataclass
class Dataset:
    """Train/validation/test arrays (NumPy, float64 features, int64 labels or float64 targets).

    ``preprocessor`` holds the scaling fitted on the training split (already applied to the
    arrays), the class labels, the feature names and the task: save it with the model.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    preprocessor: Preprocessor | None = None

    @property
    def task(self) -> str:
        return "classification" if self.preprocessor is None else self.preprocessor.task

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: {self.n_features} features, {self.n_classes} classes, "
            f"train {len(self.y_train)}, val {len(self.y_val)}, test {len(self.y_test)})"
        )


def synthetic(
    n_samples: int = 2000, n_features: int = 20, n_classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A generated classification problem (``sklearn.datasets.make_classification``)."""
    from sklearn.datasets import make_classification  # imported lazily: `import xpnet` stays fast

    return make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=max(2, n_features // 2),
        n_redundant=max(0, n_features // 4),
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )


def load_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a bundled dataset, before any split."""
    if name == "synthetic":
        return synthetic()
    from sklearn import datasets as skd

    loaders = {
        "digits": skd.load_digits,
        "iris": skd.load_iris,
        "wine": skd.load_wine,
        "breast_cancer": skd.load_breast_cancer,
    }
    if name not in loaders:
        raise ValueError(f"dataset={name!r} is unknown; choose one of {', '.join(DATASETS)}")
    return loaders[name](return_X_y=True)


def load_dataset(
    name: str = "digits",
    test_size: float = TEST_SIZE,
    val_size: float = VAL_SIZE,
    seed: int = 0,
    scale: bool = True,
) -> Dataset:
    """Load ``name``, split it stratified into train/val/test, and standardize features.

    ``test_size`` and ``val_size`` are fractions of the whole dataset; ``val_size=0``
    returns empty validation arrays.
    """
    X, y = load_raw(name)
    y = y.astype(np.int64)
    table = Table(X.astype(np.float64), y, None, sorted(np.unique(y).tolist()), "classification", None)
    return split_table(table, name, test_size, val_size, seed, scale)


def split_table(
    table: Table,
    name: str,
    test_size: float = TEST_SIZE,
    val_size: float = VAL_SIZE,
    seed: int = 0,
    scale: bool = True,
) -> Dataset:
    """Split a :class:`Table` (from :func:`load_file`) into train/val/test and standardize features.

    Classification splits are stratified; the scaling is fitted on the training part only and
    kept, with the labels and feature names, in ``Dataset.preprocessor``.
    """
    for arg, value in (("test_size", test_size), ("val_size", val_size)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{arg}={value!r} must be a fraction in [0, 1)")
    if test_size + val_size >= 1.0:
        raise ValueError("test_size + val_size must leave some data for training")
    if table.y is None:
        raise ValueError("the table has no target column to train on")
    stratify = table.task == "classification"
    X, y = table.X, table.y
    X_rest, X_test, y_rest, y_test = _split(X, y, test_size, seed, stratify)
    X_train, X_val, y_train, y_val = _split(X_rest, y_rest, val_size / (1.0 - test_size), seed, stratify)
    if scale:
        pre = Preprocessor.fit(X_train, table.classes, table.feature_names, table.task)
        X_train, X_test = pre.transform(X_train), pre.transform(X_test)
        X_val = pre.transform(X_val) if len(X_val) else X_val
    else:
        pre = Preprocessor(None, None, table.classes, table.feature_names, table.task)
    return Dataset(name, X_train, y_train, X_val, y_val, X_test, y_test, table.n_classes, pre)


def _split(X, y, fraction, seed, stratify=True):
    if fraction == 0.0:
        return X, X[:0], y, y[:0]
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=fraction, stratify=y if stratify else None, random_state=seed)
