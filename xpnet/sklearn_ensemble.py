"""``n_ensemble=K`` for :mod:`xpnet.sklearn`'s estimators: K members of the estimator, their outputs averaged.

Member ``i`` is the estimator itself with ``n_ensemble=1`` and its own ``random_state``: for an
int ``random_state=r`` the members get ``r, r + 1, ..., r + K - 1`` (so member 0 is exactly the
estimator fitted with ``n_ensemble=1``, as in ``xpnet train --ensemble K``); a ``RandomState``
draws the K seeds from itself; ``None`` leaves every member unseeded. ``predict_proba`` (and
the regressor's ``predict``) average the members' output activations; ``predict`` of a
classifier is the class of the averaged probabilities. The fitted attributes
(``coefs_``, ``loss_curve_``, ``n_iter_``, ...) are member 0's; ``members_`` holds all K.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

__all__ = ["fit_members", "member_outputs", "member_seeds"]


def member_seeds(random_state: Any, k: int) -> list[Any]:
    """The members' ``random_state`` values (see the module's docstring)."""
    if random_state is None:
        return [None] * k
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return [int(random_state) + i for i in range(k)]
    rs = check_random_state(random_state)
    return [int(s) for s in rs.randint(np.iinfo(np.int32).max, size=k)]


def fit_members(est, X, y, sample_weight=None, incremental: bool = False, classes=None):
    """Fit (or, ``incremental``, ``partial_fit``) ``est.n_ensemble`` members; ``est`` takes member 0's attributes.

    A ``warm_start`` or ``partial_fit`` call continues the members it already has (when their
    number is still ``n_ensemble``); otherwise fresh members are cloned from ``est``.
    """
    k = est.n_ensemble
    members = est.__dict__.get("members_")
    if members is None or len(members) != k or not (incremental or est.warm_start):
        members = [
            clone(est).set_params(n_ensemble=1, random_state=seed)
            for seed in member_seeds(est.random_state, k)
        ]
        if incremental and classes is None:  # the classifier's first partial_fit took them already
            classes = est.__dict__.get("classes_")
    for member in members:
        if incremental:
            extra = {} if classes is None else {"classes": classes}
            member.partial_fit(X, y, sample_weight=sample_weight, **extra)
        else:
            member.fit(X, y, sample_weight=sample_weight)
    params = est.get_params(deep=False)
    for name, value in vars(members[0]).items():  # the fitted state (attributes, label binarizer, ...)
        if name not in params:
            setattr(est, name, value)
    est.members_ = members
    return est


def member_outputs(est, X) -> np.ndarray:
    """The members' mean output activations for ``X``, NumPy ``(n, n_outputs)`` (float64 sums, member dtype)."""
    outputs = [member._outputs(X) for member in est.members_]  # noqa: SLF001 - the estimators' own helper
    mean = np.mean(np.stack([np.asarray(o, dtype=np.float64) for o in outputs]), axis=0)
    return mean.astype(np.asarray(outputs[0]).dtype, copy=False)
