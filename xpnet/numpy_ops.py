"""NumPy overrides of the hot ops: the same math with ``out=`` buffers and in-place ufuncs.

Each method computes what :class:`xpnet.ops.Ops` computes, in fewer passes and with no fresh
temporaries when the caller hands over buffers; ``backends/`` checks each against the
reference. A masked select is ~10x slower than a multiply in NumPy, so ReLU's backward
multiplies by its 0/1 mask (which differs from ``where`` only for inf/NaN gradients).
"""

from __future__ import annotations

import numpy as np

from .ops import Ops


def _fits(buf, shape, dtype) -> bool:
    return buf is not None and buf.shape == shape and buf.dtype == dtype


# The ufunc reductions themselves: np.sum/np.max add a Python wrapper per call, and a
# training step on a small batch makes many of them.
_sum, _max = np.add.reduce, np.maximum.reduce


class NumpyOps(Ops):
    """In-place NumPy versions of the ops that dominate a CPU training step."""

    takes_buffers = True

    def _scratch(self, name: str, like):
        """A scratch array shaped like ``like``, kept between steps (never handed out)."""
        try:
            cache = self._scratch_arrays
        except AttributeError:
            cache = self._scratch_arrays = {}
        key = (name, like.shape, like.dtype)
        buf = cache.get(key)
        if buf is None:
            buf = cache[key] = np.empty(like.shape, dtype=like.dtype)
        return buf

    def dense(self, x, W, b, out=None):
        shape = x.shape[:-1] + W.shape[-1:]
        z = np.matmul(x, W, out=out if _fits(out, shape, W.dtype) else None)
        z += b[..., None, :]  # a row per model: (K, f) biases broadcast over each model's batch
        return z

    def dense_backward(self, x, W, dz, need_dx=True, out=None):
        dx_buf, dW_buf, db_buf = out if out is not None else (None, None, None)
        dx = None
        if need_dx:
            shape = dz.shape[:-1] + W.shape[-2:-1]
            dx = np.matmul(dz, W.swapaxes(-1, -2), out=dx_buf if _fits(dx_buf, shape, dz.dtype) else None)
        dW = np.matmul(x.swapaxes(-1, -2), dz, out=dW_buf if _fits(dW_buf, W.shape, W.dtype) else None)
        db_shape = dz.shape[:-2] + dz.shape[-1:]
        db = _sum(dz, axis=-2, out=db_buf if _fits(db_buf, db_shape, dz.dtype) else None)
        return dx, dW, db

    def sigmoid_forward(self, z, inplace=False):
        # 1 / (1 + exp(-z)), as torch's CPU kernel computes it; exp overflows to inf for very
        # negative z, which gives the correct limit 0.
        a = z if inplace else np.empty_like(z)
        with np.errstate(over="ignore"):
            np.negative(z, out=a)
            np.exp(a, out=a)
        a += 1.0
        np.divide(1.0, a, out=a)
        return a, a

    def sigmoid_backward(self, a, da, inplace=False):
        da = da if inplace else da.copy()
        da *= a
        t = np.subtract(1.0, a, out=self._scratch("sigmoid", a))
        da *= t
        return da

    def tanh_forward(self, z, inplace=False):
        a = np.tanh(z, out=z if inplace else None)
        return a, a

    def tanh_backward(self, a, da, inplace=False):
        t = np.multiply(a, a, out=self._scratch("tanh", a))
        np.subtract(1.0, t, out=t)
        return np.multiply(da, t, out=da if inplace else None)

    def relu_forward(self, z, inplace=False):
        a = np.maximum(z, 0.0, out=z if inplace else None)
        return a, a  # a > 0 exactly where z > 0

    def relu_backward(self, a, da, inplace=False):
        return np.multiply(da, a > 0, out=da if inplace else None)

    def dropout(self, a, p, rng=None, keep=None, out=None):
        drawn = keep is None  # a mask drawn here is ours to scale in place; a given one is not
        if drawn:
            keep = rng.bernoulli(1.0 - p, tuple(a.shape), a.dtype)
        mask = np.multiply(keep, 1.0 / (1.0 - p), out=keep if drawn else None)
        return np.multiply(a, mask, out=out if _fits(out, a.shape, a.dtype) else None), mask

    def dropout_backward(self, mask, da, inplace=False):
        return np.multiply(da, mask, out=da if inplace else None)

    def output_loss(self, loss, output, z, y, stacked=False):
        if not (loss == "categorical_crossentropy" and output == "softmax"):
            return super().output_loss(loss, output, z, y, stacked)
        n = z.shape[-2]
        t = z - _max(z, axis=-1, keepdims=True)
        a = np.exp(t)
        s = _sum(a, axis=-1, keepdims=True)
        a /= s
        yt = np.multiply(y, t, out=t)
        value = self._total(np.log(s) - _sum(yt, axis=-1, keepdims=True), stacked) / n
        dz = np.subtract(a, y, out=yt)
        dz /= n
        return a, value, dz

    def sgd_update(self, p, g, state, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if momentum or weight_decay:
            return super().sgd_update(p, g, state, lr, momentum, dampening, nesterov, weight_decay)
        p -= np.multiply(g, lr, out=self._scratch("sgd", p))  # p -= lr * g without a fresh temporary
        return None

    def adam_update(
        self, p, g, state, lr, step, betas, eps, weight_decay=0.0, decoupled=False, amsgrad=False
    ):
        if weight_decay or amsgrad or "exp_avg" not in state:
            return super().adam_update(p, g, state, lr, step, betas, eps, weight_decay, decoupled, amsgrad)
        b1, b2 = betas
        m, v, t = state["exp_avg"], state["exp_avg_sq"], self._scratch("adam", p)
        np.subtract(g, m, out=t)
        t *= 1.0 - b1
        m += t
        v *= b2
        np.multiply(g, g, out=t)
        t *= 1.0 - b2
        v += t
        np.sqrt(v, out=t)
        t /= (1.0 - b2**step) ** 0.5
        t += eps
        np.divide(m, t, out=t)
        t *= lr / (1.0 - b1**step)
        p -= t
        return None
