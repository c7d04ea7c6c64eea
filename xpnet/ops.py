"""The hot operations of training, written once in plain ``xp``: the reference every backend runs.

A backend subclass overrides only the ops it makes faster (NumPy: in-place ufuncs and ``out=``
buffers; CuPy: fused kernels), and ``backends/`` checks every override against these. The
batch axis is -2 and features are -1, so an extra leading model axis (K stacked networks,
``W`` of shape ``(K, fan_in, fan_out)``) runs through the same code; reductions that must stay
per model take ``stacked=True``.

Two per-call hints let a backend save memory traffic, and the reference ignores both:
``out=`` is a buffer the caller owns (an op may write its result there) and ``inplace=True``
lets an op overwrite its array argument. Callers always use the returned arrays.
"""

from __future__ import annotations

from typing import Any

LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope
BN_EPS = 1e-5  # torch.nn.BatchNorm1d defaults
BN_MOMENTUM = 0.1
NORM_EPS = 1e-6  # torch's clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6)
LOG_CLAMP = -100.0  # torch.nn.BCELoss clamps log terms at -100
BCE_EPS = 1e-12  # torch's BCELoss backward guards p(1-p) with this epsilon


class Buffers:
    """Arrays a training step reuses from one step to the next, keyed by name.

    ``buffers(key, shape, dtype)`` returns the kept array, reallocated only when the shape or
    dtype changes; with ``enabled=False`` (backends whose ops ignore ``out=``) it returns None.
    """

    def __init__(self, xp, device, enabled: bool = True):
        self.xp, self.device, self.enabled = xp, device, enabled
        self.arrays: dict[str, Any] = {}

    def __call__(self, key: str, shape: tuple[int, ...], dtype):
        """The array kept under ``key``; ``shape`` is a tuple (compared as is, for speed)."""
        if not self.enabled:
            return None
        buf = self.arrays.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.arrays[key] = self.xp.empty(shape, dtype=dtype, device=self.device)
        return buf


class Ops:
    """Reference implementations; a subclass sets ``xp`` and ``device``."""

    takes_buffers = False  # whether any op writes into ``out=`` (so keeping buffers pays)

    def buffers(self) -> Buffers:
        """A fresh set of step buffers for one network (empty-handed where ops ignore ``out=``)."""
        return Buffers(self.xp, self.device, enabled=self.takes_buffers)

    xp: Any
    device: Any

    # --- helpers -----------------------------------------------------------------------
    def _row(self, v):
        """A per-feature vector ``(..., f)`` as a row ``(..., 1, f)`` that broadcasts over the batch."""
        return self.xp.expand_dims(v, axis=-2)

    def _total(self, x, stacked: bool = False):
        """Sum of all elements (per model when ``stacked``)."""
        return self.xp.sum(x, axis=tuple(range(1, x.ndim))) if stacked else self.xp.sum(x)

    def _per_model(self, s, like):
        """A scalar (or a ``(K,)`` per-model vector) shaped to broadcast against ``like``."""
        return self.xp.reshape(s, tuple(s.shape) + (1,) * (like.ndim - s.ndim))

    def _count(self, z) -> int:
        """Elements of one model's ``(batch, features)`` block."""
        return z.shape[-2] * z.shape[-1]

    # --- dense ---------------------------------------------------------------------------
    def dense(self, x, W, b, out=None):
        """``z = x @ W + b``."""
        return x @ W + self._row(b)

    def dense_backward(self, x, W, dz, need_dx: bool = True, out=None):
        """``(dx, dW, db)`` for ``z = x @ W + b``; ``dx`` is None when not needed; ``out`` = 3 buffers."""
        mT = self.xp.matrix_transpose
        dx = dz @ mT(W) if need_dx else None
        return dx, mT(x) @ dz, self.xp.sum(dz, axis=-2)

    # --- activations: forward returns (a, saved); backward(saved, da) -> dz --------------
    def activation(self, name: str, z, inplace: bool = False):
        """``(a, saved)`` of activation ``name``; ``saved`` is opaque, for :meth:`activation_backward`."""
        return getattr(self, f"{name}_forward")(z, inplace)

    def activation_backward(self, name: str, saved, da, inplace: bool = False):
        """``dL/dz`` given ``dL/da`` and the ``saved`` value of the forward pass."""
        return getattr(self, f"{name}_backward")(saved, da, inplace)

    def sigmoid_forward(self, z, inplace=False):
        xp = self.xp  # exp(-|z|) only, so nothing overflows for any z
        e = xp.exp(-xp.abs(z))
        a = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return a, a

    def sigmoid_backward(self, a, da, inplace=False):
        return da * a * (1.0 - a)

    def tanh_forward(self, z, inplace=False):
        a = self.xp.tanh(z)
        return a, a

    def tanh_backward(self, a, da, inplace=False):
        return da * (1.0 - a * a)

    def relu_forward(self, z, inplace=False):
        return self.xp.maximum(z, self.xp.zeros_like(z)), z

    def relu_backward(self, z, da, inplace=False):
        return self.xp.where(z > 0, da, self.xp.zeros_like(da))

    def leaky_relu_forward(self, z, inplace=False):
        return self.xp.where(z > 0, z, LEAKY_SLOPE * z), z

    def leaky_relu_backward(self, z, da, inplace=False):
        return self.xp.where(z > 0, da, LEAKY_SLOPE * da)

    def softmax_forward(self, z, inplace=False):
        xp = self.xp  # shifted by the row max for stability
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        a = e / xp.sum(e, axis=-1, keepdims=True)
        return a, a

    def softmax_backward(self, a, da, inplace=False):
        return a * (da - self.xp.sum(da * a, axis=-1, keepdims=True))

    def identity_forward(self, z, inplace=False):
        return z, None

    def identity_backward(self, saved, da, inplace=False):
        return da

    # --- dropout ------------------------------------------------------------------------
    def dropout(self, a, p: float, rng=None, keep=None, out=None):
        """Inverted dropout ``(a * mask, mask)``: the mask holds 0 or ``1/(1-p)``.

        The 0/1 keep mask is drawn from ``rng`` with probability ``1-p``, unless ``keep`` gives it.
        """
        if keep is None:
            keep = rng.bernoulli(1.0 - p, tuple(a.shape), a.dtype)
        mask = keep * (1.0 / (1.0 - p))
        return a * mask, mask

    def dropout_backward(self, mask, da, inplace=False):
        """The same mask multiplies the gradient."""
        return da * mask

    # --- batch norm (torch.nn.BatchNorm1d) ----------------------------------------------
    def batch_norm(self, z, gamma, beta, running_mean, running_var, training: bool):
        """``(out, saved, stats)``: batch statistics (biased variance) in training, running ones in eval.

        ``stats`` is ``(batch mean, unbiased batch variance, None)`` in training (None in eval),
        for :meth:`batch_norm_update`: a forward pass never changes the running statistics.
        """
        xp = self.xp
        if training:
            n = z.shape[-2]
            mean = xp.mean(z, axis=-2)
            centered = z - self._row(mean)
            var = xp.mean(centered * centered, axis=-2)
            inv_std = 1.0 / xp.sqrt(var + BN_EPS)
            xhat = centered * self._row(inv_std)
            stats = (mean, var * (n / (n - 1)) if n > 1 else var)  # torch keeps the unbiased variance
        else:
            inv_std = 1.0 / xp.sqrt(running_var + BN_EPS)
            xhat = (z - self._row(running_mean)) * self._row(inv_std)
            stats = None
        return self._row(gamma) * xhat + self._row(beta), (xhat, inv_std), stats

    def batch_norm_backward(self, saved, gamma, dout, training: bool):
        """``(dz, dgamma, dbeta)``; in training the batch statistics depend on ``z`` too."""
        xp = self.xp
        xhat, inv_std = saved
        dgamma = xp.sum(dout * xhat, axis=-2)
        dbeta = xp.sum(dout, axis=-2)
        dxhat = dout * self._row(gamma)
        if not training:
            return dxhat * self._row(inv_std), dgamma, dbeta
        n = dout.shape[-2]
        s1 = self._row(xp.sum(dxhat, axis=-2))
        s2 = self._row(xp.sum(dxhat * xhat, axis=-2))
        return self._row(inv_std / n) * (n * dxhat - s1 - xhat * s2), dgamma, dbeta

    def batch_norm_update(self, running_mean, running_var, stats, momentum: float = BN_MOMENTUM):
        """The new ``(running_mean, running_var)`` after one training batch's ``stats``."""
        mean, var = stats
        return (
            (1.0 - momentum) * running_mean + momentum * mean,
            (1.0 - momentum) * running_var + momentum * var,
        )

    # --- output activation + loss, from the logits --------------------------------------
    def loss_value(self, loss: str, output: str, z, a, y, stacked: bool = False):
        """The loss (0-d, or ``(K,)`` when ``stacked``) from logits ``z``, outputs ``a``, targets ``y``."""
        xp, n = self.xp, z.shape[-2]
        if loss == "mse":
            d = a - y
            return self._total(d * d, stacked) / self._count(a)
        if loss == "categorical_crossentropy":
            logp = self._log_softmax(z) if output == "softmax" else self._log_sigmoid(z)
            return -self._total(y * logp, stacked) / n
        if output == "sigmoid":  # log_loss: softplus(z) - y*z, as BCEWithLogitsLoss
            per = xp.maximum(z, xp.zeros_like(z)) - y * z + xp.log1p(xp.exp(-xp.abs(z)))
            return self._total(per, stacked) / self._count(z)
        logp = self._log_softmax(z)  # log_loss on softmax: BCELoss with its -100 clamp
        log1mp = xp.log(xp.clip(-xp.expm1(logp), min=xp.finfo(z.dtype).smallest_normal))
        per = y * xp.clip(logp, min=LOG_CLAMP) + (1.0 - y) * xp.clip(log1mp, min=LOG_CLAMP)
        return -self._total(per, stacked) / self._count(z)

    def _log_softmax(self, z):
        xp = self.xp
        s = z - xp.max(z, axis=-1, keepdims=True)
        return s - xp.log(xp.sum(xp.exp(s), axis=-1, keepdims=True))

    def _log_sigmoid(self, z):
        xp = self.xp
        return xp.minimum(z, xp.zeros_like(z)) - xp.log1p(xp.exp(-xp.abs(z)))

    def loss_grad(self, loss: str, output: str, z, a, y):
        """``dL/dz``: fused for softmax/sigmoid with cross-entropy, the chain rule otherwise."""
        n = z.shape[-2]
        if loss == "categorical_crossentropy":
            if output == "softmax":  # rows of y sum to 1 (checked at the boundary)
                return (a - y) / n
            return -y * (1.0 - a) / n  # sigmoid: d/dz of -y log sigmoid(z)
        if loss == "log_loss" and output == "sigmoid":
            return (a - y) / self._count(z)
        if loss == "mse":
            da = (2.0 / self._count(a)) * (a - y)
        else:  # log_loss on a softmax output, through dL/da as torch's BCELoss computes it
            da = (a - y) / self.xp.clip((1.0 - a) * a, min=BCE_EPS) / self._count(a)
        return self.activation_backward(output, a if output != "identity" else None, da)

    def output_loss(self, loss: str, output: str, z, y, stacked: bool = False):
        """``(a, loss, dL/dz)`` from the logits: output activation, loss and its gradient together.

        softmax + CCE shares the shifted logits and the row sums of ``exp`` between the
        probabilities and the log-sum-exp: one ``exp`` per step instead of two.
        """
        if loss == "categorical_crossentropy" and output == "softmax":
            xp, n = self.xp, z.shape[-2]
            t = z - xp.max(z, axis=-1, keepdims=True)
            e = xp.exp(t)
            s = xp.sum(e, axis=-1, keepdims=True)
            a = e / s
            # per row -sum_k y_k log p_k = log(s) - sum_k y_k t_k, as rows of y sum to 1
            value = self._total(xp.log(s) - xp.sum(y * t, axis=-1, keepdims=True), stacked) / n
            return a, value, (a - y) / n
        a, _ = self.activation(output, z)
        return a, self.loss_value(loss, output, z, a, y, stacked), self.loss_grad(loss, output, z, a, y)

    # --- gradient norms and clipping -----------------------------------------------------
    def global_norm(self, grads, stacked: bool = False):
        """The L2 norm of all gradient arrays together (0-d, or ``(K,)`` when ``stacked``)."""
        total = None
        for g in grads:
            s = self._total(g * g, stacked)
            total = s if total is None else total + s
        return self.xp.sqrt(total)

    def clip(self, grads: dict[str, Any], kind: str, threshold, stacked: bool = False) -> dict[str, Any]:
        """Clipped gradients: ``value`` clamps, ``norm`` scales each tensor, ``global_norm`` all together."""
        xp = self.xp
        if kind == "value":
            return {k: xp.clip(g, min=-threshold, max=threshold) for k, g in grads.items()}
        if kind == "norm":
            return {
                k: g * self._per_model(self._clip_coef(threshold, self.global_norm([g], stacked)), g)
                for k, g in grads.items()
            }
        if kind == "global_norm":
            coef = self._clip_coef(threshold, self.global_norm(grads.values(), stacked))
            return {k: g * self._per_model(coef, g) for k, g in grads.items()}
        raise ValueError(f"clip kind={kind!r} is unknown; choose one of value, norm, global_norm")

    def _clip_coef(self, threshold, norm):
        return self.xp.clip(threshold / (norm + NORM_EPS), max=1.0)

    # --- optimizer updates: each changes p and its state in place ------------------------
    def sgd_update(self, p, g, state, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        """``torch.optim.SGD``'s step for one parameter (heavy-ball momentum or Nesterov)."""
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = self.xp.asarray(g, copy=True)
            else:
                buf *= momentum
                buf += (1.0 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p -= lr * g

    def adam_update(
        self, p, g, state, lr, step, betas, eps, weight_decay=0.0, decoupled=False, amsgrad=False
    ):
        """``torch.optim.Adam``/``AdamW``'s step for one parameter (``step`` counts from 1)."""
        xp, (b1, b2) = self.xp, betas
        if weight_decay:
            if decoupled:
                p *= 1.0 - lr * weight_decay
            else:
                g = g + weight_decay * p
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1.0 - b1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        v *= b2
        v += (1.0 - b2) * (g * g)
        if amsgrad:
            vmax = state["max_exp_avg_sq"]
            vmax[...] = xp.maximum(vmax, v)
            v = vmax
        denom = xp.sqrt(v) / (1.0 - b2**step) ** 0.5 + eps
        p -= (lr / (1.0 - b1**step)) * (m / denom)

    def rmsprop_update(self, p, g, state, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
        """``torch.optim.RMSprop``'s step for one parameter (optionally centered, with momentum)."""
        xp = self.xp
        if weight_decay:
            g = g + weight_decay * p
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(p)
            if momentum:
                state["momentum_buffer"] = xp.zeros_like(p)
            if centered:
                state["grad_avg"] = xp.zeros_like(p)
        sq = state["square_avg"]
        sq *= alpha
        sq += (1.0 - alpha) * (g * g)
        if centered:
            ga = state["grad_avg"]
            ga += (1.0 - alpha) * (g - ga)  # torch: grad_avg.lerp_(grad, 1 - alpha)
            avg = xp.sqrt(sq - ga * ga) + eps
        else:
            avg = xp.sqrt(sq) + eps
        if momentum:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p -= lr * buf
        else:
            p -= lr * (g / avg)
