"""The scikit-learn reference: MLPClassifier trained one epoch per ``partial_fit``."""

from __future__ import annotations

import numpy as np

from .base import Runner, cpu_name
from .workloads import Workload


def sklearn_runner(workload: Workload, X, y, dtype: str = "float32", seed: int = 0):
    """scikit-learn's MLPClassifier, one epoch per partial_fit (plain SGD, no L2, no momentum)."""
    from sklearn.neural_network import MLPClassifier

    n = X.shape[0]
    clf = MLPClassifier(
        hidden_layer_sizes=workload.layers[1:-1],
        activation={"relu": "relu", "sigmoid": "logistic"}[workload.activation],
        solver="sgd",
        alpha=0.0,
        batch_size=workload.effective_batch(n),
        learning_rate_init=workload.lr,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=workload.effective_batch(n) < n,  # as xpnet: no shuffle at full batch
        early_stopping=False,
        random_state=seed,
    )
    Xs = np.ascontiguousarray(X, dtype=dtype)
    classes = np.arange(workload.layers[-1])

    def epoch():
        clf.partial_fit(Xs, y, classes=classes)
        return clf.loss_

    p = clf.get_params()
    settings = {
        "layers": (Xs.shape[1], *p["hidden_layer_sizes"], len(classes)),
        "activation": {"logistic": "sigmoid"}.get(p["activation"], p["activation"]),
        "dtype": str(Xs.dtype),
        "optimizer": p["solver"],
        "lr": p["learning_rate_init"],
        "batch_size": p["batch_size"],
        "shuffle": p["shuffle"],
        "grad_norm": False,  # scikit-learn computes no gradient norm
    }
    return Runner("sklearn", "reference", "cpu", cpu_name(), epoch, workload.threads, settings)
