"""Early stopping in the scikit-learn estimators restores the best epoch (issue 12).

``best_validation_score_`` is defined as the maximum of ``validation_scores_``, so comparing
the two checks nothing; these tests score the fitted model on the very validation split it
held out (captured from ``train_test_split``) and require the best epoch's score, on runs
where the last epoch's score is a different number (so a model left at the last epoch fails).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from xpnet import sklearn_mlp, sklearn_trainer  # noqa: E402
from xpnet.sklearn import XPNetRegressor  # noqa: E402

# early stopping on a 30 % validation split, 5 epochs without improvement
EARLY = {"hidden_layer_sizes": (16,), "early_stopping": True, "validation_fraction": 0.3}
EARLY |= {"n_iter_no_change": 5, "batch_size": 32, "max_iter": 300, "random_state": 0}


def _capture_split(monkeypatch, module):
    seen = {}
    real = module.train_test_split

    def split(*arrays, **kwargs):
        parts = real(*arrays, **kwargs)
        seen["X_val"], seen["y_val"] = parts[1], parts[3]
        return parts

    monkeypatch.setattr(module, "train_test_split", split)
    return seen


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    return X, X[:, 0] * X[:, 1] + 0.3 * rng.standard_normal(200)


@pytest.mark.parametrize(
    "path, module, params",
    [
        (
            "trainer",
            sklearn_trainer,
            dict(optimizer="adam", init="he_normal", dropout=0.2, learning_rate_init=2e-2, dtype="float64"),
        ),
        ("sklearn", sklearn_mlp, dict(solver="adam", learning_rate_init=2e-2)),
    ],
)
def test_early_stopping_restores_the_best_epoch(path, module, params, monkeypatch):
    seen = _capture_split(monkeypatch, module)
    X, y = _data()
    reg = XPNetRegressor(**params, **EARLY).fit(X, y)
    scores = list(reg.validation_scores_)
    assert reg.n_iter_ < 300 and len(scores) == reg.n_iter_
    best = int(np.argmax(scores))
    assert best < len(scores) - 1 and abs(scores[-1] - scores[best]) > 1e-6  # restoring matters here
    assert reg.score(seen["X_val"], seen["y_val"]) == pytest.approx(reg.best_validation_score_, abs=1e-6)
