"""Activation functions, each forward beside its backward (a vector-Jacobian product).

``forward(xp, z) -> a``; ``backward(xp, z, a, da) -> dz``. Backward gets both the input
``z`` and the output ``a`` so nothing is recomputed.

``forward_inplace``/``backward_inplace`` are optional fast paths for backends whose arrays
take ``out=`` (``Backend.inplace``, i.e. NumPy): forward writes ``a`` over ``z`` (so the
caller passes ``z=a`` to backward, which reads only the sign or value of ``a``) and backward
overwrites ``da``. They compute the same function with fewer temporaries and no ``where``
(a masked select is ~10x slower than a multiply in NumPy); the generic pair stays the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope


class Activation(NamedTuple):
    forward: Callable
    backward: Callable
    forward_inplace: Callable | None = None
    backward_inplace: Callable | None = None


def sigmoid(xp, z):
    """Logistic function, overflow-free for any ``z`` (uses exp(-|z|) only)."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_backward(xp, z, a, da):
    return da * a * (1.0 - a)


def _sigmoid_inplace(xp, z):
    # 1 / (1 + exp(-z)), as torch's CPU kernel computes it; exp overflows to inf for very
    # negative z, which gives the correct limit 0.
    with xp.errstate(over="ignore"):
        xp.negative(z, out=z)
        xp.exp(z, out=z)
    z += 1.0
    return xp.divide(1.0, z, out=z)


def _sigmoid_backward_inplace(xp, z, a, da):
    da *= a
    da *= 1.0 - a
    return da


def _tanh(xp, z):
    return xp.tanh(z)


def _tanh_backward(xp, z, a, da):
    return da * (1.0 - a * a)


def _relu(xp, z):
    return xp.maximum(z, xp.zeros_like(z))


def _relu_backward(xp, z, a, da):
    return xp.where(z > 0, da, xp.zeros_like(da))


def _relu_inplace(xp, z):
    return xp.maximum(z, 0.0, out=z)


def _relu_backward_inplace(xp, z, a, da):
    # a > 0 exactly where z > 0; multiplying by the 0/1 mask differs from where() only for
    # inf/NaN upstream gradients (a diverged run, which the trainer stops anyway).
    return xp.multiply(da, a > 0, out=da)


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
    "sigmoid": Activation(sigmoid, _sigmoid_backward, _sigmoid_inplace, _sigmoid_backward_inplace),
    "tanh": Activation(_tanh, _tanh_backward),
    "relu": Activation(_relu, _relu_backward, _relu_inplace, _relu_backward_inplace),
    "leaky_relu": Activation(_leaky_relu, _leaky_relu_backward),
}

OUTPUT = {
    "softmax": Activation(softmax, _softmax_backward),
    "sigmoid": Activation(sigmoid, _sigmoid_backward),
    "identity": Activation(_identity, _identity_backward),
}
