"""How good and how honest predicted probabilities are: accuracy, negative log-likelihood, calibration error.

All three take host arrays: ``proba`` of shape ``(n, n_classes)`` (rows of class
probabilities) or ``(n, 1)``/``(n,)`` for one sigmoid unit (the probability of class 1), and
``y`` the true class indices ``0 .. n_classes-1``::

    probability_metrics(ensemble.predict_proba(X_test), y_test)
    # {'accuracy': 0.983, 'nll': 0.061, 'ece': 0.012}
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["ECE_BINS", "expected_calibration_error", "negative_log_likelihood", "probability_metrics"]

ECE_BINS = 15  # the standard choice (Guo et al. 2017, "On calibration of modern neural networks")
NLL_FLOOR = 1e-12  # a probability of exactly 0 for the true class costs -log(1e-12), not infinity


def class_probabilities(proba: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(P, y)``: ``P`` as ``(n, n_classes)`` float64 rows (one sigmoid column becomes ``[1-p, p]``), ``y`` int64.

    Raises ValueError naming ``proba`` or ``y`` for anything else: shapes that disagree,
    values outside [0, 1] or not finite, labels outside ``0 .. n_classes-1``.
    """
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2 or P.shape[0] == 0:
        raise ValueError(f"proba must be a non-empty (n, n_classes) array; got shape {np.shape(proba)}")
    if not np.all(np.isfinite(P)) or P.min() < 0.0 or P.max() > 1.0:
        raise ValueError("proba must hold finite probabilities in [0, 1]")
    if P.shape[1] == 1:
        P = np.concatenate([1.0 - P, P], axis=1)
    labels = np.asarray(y)
    if labels.shape != (P.shape[0],):
        raise ValueError(
            f"y must be 1-D with one label per row of proba ({P.shape[0]}); got shape {labels.shape}"
        )
    if labels.dtype.kind not in "iub" and not (
        labels.dtype.kind == "f" and np.all(labels == np.round(labels))
    ):
        raise ValueError(f"y must hold class indices (integers); got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= P.shape[1]:
        raise ValueError(
            f"y must hold class indices in 0..{P.shape[1] - 1}; got {labels.min()}..{labels.max()}"
        )
    return P, labels


def negative_log_likelihood(proba: Any, y: Any) -> float:
    """Mean over samples of ``-log p(true class)`` (natural log; probabilities floored at 1e-12)."""
    P, labels = class_probabilities(proba, y)
    p_true = P[np.arange(P.shape[0]), labels]
    return float(-np.mean(np.log(np.maximum(p_true, NLL_FLOOR))))


def expected_calibration_error(proba: Any, y: Any, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: ``sum_b |B_b|/n * |accuracy(B_b) - mean confidence(B_b)|``.

    The confidence of a row is its largest probability and its prediction that class (ties: the
    lowest index); bin ``b`` of ``n_bins`` equal-width bins holds confidences in
    ``(edges[b], edges[b+1]]`` with ``edges = linspace(0, 1, n_bins + 1)``, as the reference
    implementation of Guo et al. has it (a confidence of 0 falls in the first bin).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1; got {n_bins!r}")
    P, labels = class_probabilities(proba, y)
    confidence = P.max(axis=1)
    correct = (P.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")  # edges[b] < c <= edges[b + 1]
    total = 0.0
    for b in np.unique(bins):
        members = bins == b
        total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / P.shape[0])


def probability_metrics(proba: Any, y: Any, n_bins: int = ECE_BINS) -> dict[str, float]:
    """``{"accuracy", "nll", "ece"}`` of predicted probabilities against class indices ``y``."""
    P, labels = class_probabilities(proba, y)
    return {
        "accuracy": float(np.mean(P.argmax(axis=1) == labels)),
        "nll": negative_log_likelihood(P, labels),
        "ece": expected_calibration_error(P, labels, n_bins),
    }
