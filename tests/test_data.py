"""Bundled datasets: stratified splits, scaling fitted on the training part only."""

from __future__ import annotations

import numpy as np
import pytest

from xpnet import data


@pytest.mark.parametrize("name", data.DATASETS)
def test_splits(name):
    ds = data.load_dataset(name, test_size=0.2, val_size=0.1, seed=0)
    n = len(ds.y_train) + len(ds.y_val) + len(ds.y_test)
    X, y = data.load_raw(name)
    assert n == len(y) and ds.n_features == X.shape[1] and ds.n_classes == len(np.unique(y))
    assert len(ds.y_test) == pytest.approx(0.2 * n, abs=ds.n_classes + 1)
    full = np.bincount(y) / len(y)  # stratified: class proportions are kept
    np.testing.assert_allclose(
        np.bincount(ds.y_test, minlength=ds.n_classes) / len(ds.y_test), full, atol=0.03
    )
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-9)
    assert not np.allclose(ds.X_test.mean(axis=0), 0.0, atol=1e-9)  # scaler saw training data only


def test_no_validation_split():
    ds = data.load_dataset("iris", val_size=0.0)
    assert len(ds.y_val) == 0 and len(ds.y_train) == 120


def test_bad_arguments():
    with pytest.raises(ValueError, match="dataset='mnist' is unknown"):
        data.load_dataset("mnist")
    with pytest.raises(ValueError, match="test_size"):
        data.load_dataset("iris", test_size=1.5)
