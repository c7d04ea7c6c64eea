"""Activation functions, each forward beside its backward (a vector-Jacobian product).

``forward(xp, z) -> a``; ``backward(xp, z, a, da) -> dz``. Backward gets both the input
``z`` and the output ``a`` so nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope


class Activation(NamedTuple):
    forward: Callable
    backward: Callable


def sigmoid(xp, z):
    """Logistic function, overflow-free for any ``z`` (uses exp(-|z|) only)."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_backward(xp, z, a, da):
    return da * a * (1.0 - a)


def _tanh(xp, z):
    return xp.tanh(z)


def _tanh_backward(xp, z, a, da):
    return da * (1.0 - a * a)


def _relu(xp, z):
    return xp.maximum(z, xp.zeros_like(z))


def _relu_backward(xp, z, a, da):
    return xp.where(z > 0, da, xp.zeros_like(da))


def _leaky_relu(xp, z):
    return xp.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_backward(xp, z, a, da):
    return xp.where(z > 0, da, LEAKY_SLOPE * da)


def softmax(xp, z):
    """Row-wise softmax, shifted by the row max for stability."""
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def _softmax_backward(xp, z, a, da):
    return a * (da - xp.sum(da * a, axis=1, keepdims=True))


def _identity(xp, z):
    return z


def _identity_backward(xp, z, a, da):
    return da


HIDDEN = {
    "sigmoid": Activation(sigmoid, _sigmoid_backward),
    "tanh": Activation(_tanh, _tanh_backward),
    "relu": Activation(_relu, _relu_backward),
    "leaky_relu": Activation(_leaky_relu, _leaky_relu_backward),
}

OUTPUT = {
    "softmax": Activation(softmax, _softmax_backward),
    "sigmoid": Activation(sigmoid, _sigmoid_backward),
    "identity": Activation(_identity, _identity_backward),
}
