"""scikit-learn's stochastic optimizers (``solver="sgd"``/``"adam"``) over the Array API.

Same updates as ``sklearn.neural_network._stochastic_optimizers``: SGD with (Nesterov)
momentum whose rate follows ``learning_rate`` — ``"constant"``, ``"invscaling"``
(``learning_rate_init / (t + 1) ** power_t`` with ``t`` the samples seen, set at each epoch's
end) or ``"adaptive"`` (divided by 5 each time the stopping rule fires, stopping only once
it is at most 1e-6) — and Adam with bias-corrected step size. Parameters are updated in
place (``param += update``), whatever the backend.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["AdamOptimizer", "SGDOptimizer", "make_optimizer"]


class _Base:
    def __init__(self, learning_rate_init: float):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def update_params(self, params: list, grads: list) -> None:
        for param, update in zip(params, self._get_updates(grads), strict=True):
            param += update

    def iteration_ends(self, time_step: int) -> None:
        """Called at each epoch's end with the number of samples seen so far."""

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(_Base):
    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
        xp: Any = None,
    ):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = [xp.zeros_like(p) for p in params]

    def iteration_ends(self, time_step: int) -> None:
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"{msg} Setting learning rate to {self.learning_rate:f}")
        return False

    def _get_updates(self, grads: list) -> list:
        m, lr = self.momentum, self.learning_rate
        updates = [m * v - lr * g for v, g in zip(self.velocities, grads, strict=True)]
        self.velocities = updates
        if self.nesterov:
            updates = [m * v - lr * g for v, g in zip(self.velocities, grads, strict=True)]
        return updates


class AdamOptimizer(_Base):
    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, xp: Any = None
    ):
        super().__init__(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.xp = xp
        self.ms = [xp.zeros_like(p) for p in params]
        self.vs = [xp.zeros_like(p) for p in params]

    def _get_updates(self, grads: list) -> list:
        b1, b2 = self.beta_1, self.beta_2
        if self.xp is None:  # after unpickling (a namespace module does not pickle)
            self.xp = np if isinstance(grads[0], np.ndarray) else array_api_compat.array_namespace(grads[0])
        xp = self.xp
        self.t += 1
        self.ms = [b1 * m + (1 - b1) * g for m, g in zip(self.ms, grads, strict=True)]
        self.vs = [b2 * v + (1 - b2) * (g * g) for v, g in zip(self.vs, grads, strict=True)]
        self.learning_rate = self.learning_rate_init * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        return [
            -self.learning_rate * m / (xp.sqrt(v) + self.epsilon)
            for m, v in zip(self.ms, self.vs, strict=True)
        ]

    def __getstate__(self):
        return {**self.__dict__, "xp": None}


def make_optimizer(est: Any, xp: Any, params: list):
    """The optimizer ``est.solver`` names, with the estimator's settings, for ``params``."""
    if est.solver == "sgd":
        return SGDOptimizer(
            params,
            est.learning_rate_init,
            est.learning_rate,
            est.momentum,
            est.nesterovs_momentum,
            est.power_t,
            xp=xp,
        )
    return AdamOptimizer(params, est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon, xp=xp)
