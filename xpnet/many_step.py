"""The stacked training step of :func:`xpnet.fit_many`: K networks of one depth as one set of arrays.

Every parameter carries a leading model axis (``dense0.weight`` is ``(K, fan_in, fan_out)``), so
one batched matmul serves all K models, and the backend ops run unchanged on it (batch axis -2;
per-model reductions with ``stacked=True``). Per-model hyperparameters (learning rate, momentum,
weight decay, dropout rate, clipping threshold) are Python floats when all K agree, else device
arrays shaped ``(K, 1, ...)`` to broadcast against each parameter. The math mirrors the
single-network path (:mod:`xpnet.ops`, :mod:`xpnet.optim`) operation for operation, so each model
follows its own run to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ops import NORM_EPS


@dataclass
class Stack:
    """The stacked arrays of one group and what its step needs to know."""

    ops: Any  # the backend (its ops)
    n_hidden: int
    activation: str
    output: str
    loss: str
    batch_norm: bool
    params: dict[str, Any]  # key -> (K, ...) device array
    buffers: dict[str, Any]  # batch-norm running statistics, (K, width)
    grad_masks: dict[str, Any] | None = None  # key -> 0/1 (K, ...) where widths are padded
    dropout: Any = None  # None (no model drops units) or the per-model keep scale 1/(1-p)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # optimizer state per key

    @property
    def xp(self):
        return self.ops.xp

    def per_model(self, values, ndim: int):
        """``values`` (one per model) as a float when all agree, else a device array ``(K, 1, ...)``."""
        values = [float(v) for v in values]
        if all(v == values[0] for v in values):
            return values[0]
        xp = self.xp
        arr = xp.asarray(np.asarray(values), dtype=self.dtype, device=self.ops.device)
        return xp.reshape(arr, (len(values),) + (1,) * (ndim - 1))

    @property
    def dtype(self):
        return self.params["dense0.weight"].dtype

    def take(self, idx) -> None:
        """Keep only the models at (device) indices ``idx``, in that order."""
        xp = self.xp
        for d in (self.params, self.buffers, self.grad_masks or {}):
            for k in d:
                d[k] = xp.take(d[k], idx, axis=0)
        for entries in self.state.values():
            for k in entries:
                entries[k] = xp.take(entries[k], idx, axis=0)
        if self.dropout is not None and not isinstance(self.dropout, float):
            self.dropout = xp.take(self.dropout, idx, axis=0)


# --- forward and backward ------------------------------------------------------------------
def forward(s: Stack, X, training: bool, keep_masks=None):
    """Logits ``(K, batch, outputs)`` and the tape for :func:`backward`; batch statistics in the tape."""
    ops, P = s.ops, s.params
    h, tape = X, []
    for i in range(s.n_hidden):
        z = _dense(s.xp, h, P[f"dense{i}.weight"], P[f"dense{i}.bias"])
        bn = stats = None
        if s.batch_norm:
            b = s.buffers
            z, bn, stats = ops.batch_norm(
                z,
                P[f"bn{i}.weight"],
                P[f"bn{i}.bias"],
                b[f"bn{i}.running_mean"],
                b[f"bn{i}.running_var"],
                training,
            )
        a, act = ops.activation(s.activation, z, True)
        mask = None
        if training and keep_masks is not None:
            mask = keep_masks[i] * s.dropout
            a = a * mask
        tape.append((h, bn, stats, act, mask))
        h = a
    z = _dense(s.xp, h, P[f"dense{s.n_hidden}.weight"], P[f"dense{s.n_hidden}.bias"])
    tape.append(h)
    return z, tape


def _dense(xp, x, W, b):
    """``x @ W + b`` for every model (``b`` is ``(K, fan_out)``, added to each row)."""
    z = x @ W
    z += xp.expand_dims(b, axis=-2)
    return z


def backward(s: Stack, tape, dz) -> dict[str, Any]:
    """Gradients keyed as ``params`` from ``dL/dz`` of the logits (the training pass's tape)."""
    ops, P, L = s.ops, s.params, s.n_hidden
    grads = {}
    dx, grads[f"dense{L}.weight"], grads[f"dense{L}.bias"] = ops.dense_backward(
        tape[L], P[f"dense{L}.weight"], dz, need_dx=True
    )
    for i in reversed(range(L)):
        h, bn, _, act, mask = tape[i]
        if mask is not None:
            dx = ops.dropout_backward(mask, dx)
        dz = ops.activation_backward(s.activation, act, dx, True)
        if s.batch_norm:
            dz, grads[f"bn{i}.weight"], grads[f"bn{i}.bias"] = ops.batch_norm_backward(
                bn, P[f"bn{i}.weight"], dz, True
            )
        dx, grads[f"dense{i}.weight"], grads[f"dense{i}.bias"] = ops.dense_backward(
            h, P[f"dense{i}.weight"], dz, need_dx=i > 0
        )
    if s.grad_masks is not None:
        grads = {k: g * s.grad_masks[k] for k, g in grads.items()}
    return {k: grads[k] for k in P}


def update_batch_stats(s: Stack, tape) -> None:
    for i in range(s.n_hidden):
        stats = tape[i][2]
        if stats is not None:
            b = s.buffers
            b[f"bn{i}.running_mean"], b[f"bn{i}.running_var"] = s.ops.batch_norm_update(
                b[f"bn{i}.running_mean"], b[f"bn{i}.running_var"], stats
            )


def eval_metrics(s: Stack, X, Y):
    """``(2, K)``: evaluation-mode loss and accuracy of every model on device arrays ``X``, ``Y``."""
    xp, ops = s.xp, s.ops
    z, _ = forward(s, X, False)
    a = ops.activation(s.output, z)[0]
    value = ops.loss_value(s.loss, s.output, z, a, Y, stacked=True)
    if s.output == "identity":
        acc = xp.full(value.shape, float("nan"), dtype=value.dtype, device=ops.device)
    elif z.shape[-1] == 1:
        acc = xp.mean(xp.astype((a[..., 0] >= 0.5) == (Y[..., 0] >= 0.5), a.dtype), axis=-1)
    else:
        acc = xp.mean(xp.astype(xp.argmax(a, axis=-1) == xp.argmax(Y, axis=-1), a.dtype), axis=-1)
    return xp.stack([value, acc])


# --- clipping and optimizer updates ------------------------------------------------------------
def clip(s: Stack, grads: dict[str, Any], kind: str, thresholds) -> dict[str, Any]:
    """Per-model clipping (``thresholds`` one per model), as :meth:`xpnet.ops.Ops.clip` for one model."""
    xp, ops = s.xp, s.ops
    if kind == "value":
        out = {}
        for k, g in grads.items():
            t = s.per_model(thresholds, g.ndim)
            out[k] = xp.clip(g, min=-t, max=t) if isinstance(t, float) else xp.minimum(xp.maximum(g, -t), t)
        return out
    t = s.per_model(thresholds, 1)
    if kind == "norm":
        return {k: g * _coef(ops, t, ops.global_norm([g], stacked=True), g) for k, g in grads.items()}
    coef = ops.global_norm(grads.values(), stacked=True)
    return {k: g * _coef(ops, t, coef, g) for k, g in grads.items()}


def _coef(ops, t, norm, like):
    return ops._per_model(ops.xp.clip(t / (norm + NORM_EPS), max=1.0), like)  # noqa: SLF001


def step(s: Stack, grads: dict[str, Any], name: str, hp: dict[str, list], steps: int) -> None:
    """One optimizer step of every model (``name`` a RunConfig optimizer; ``hp`` per-model lists)."""
    xp = s.xp
    b1, b2 = hp.get("betas", (0.9, 0.999))
    for key, p in s.params.items():
        g, st, n = grads[key], s.state.setdefault(key, {}), p.ndim
        lr, wd = s.per_model(hp["lr"], n), s.per_model(hp["weight_decay"], n)
        if name in ("adam", "adamw"):
            if name == "adamw":
                p *= 1.0 - lr * wd
            elif _nonzero(hp["weight_decay"]):
                g = g + wd * p
            if "exp_avg" not in st:
                st["exp_avg"], st["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m += (1.0 - b1) * (g - m)
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = xp.sqrt(v) / (1.0 - b2**steps) ** 0.5 + hp["eps"]
            p -= (lr / (1.0 - b1**steps)) * (m / denom)
        elif name == "rmsprop":
            if _nonzero(hp["weight_decay"]):
                g = g + wd * p
            if "square_avg" not in st:
                st["square_avg"] = xp.zeros_like(p)
            sq, alpha = st["square_avg"], hp["alpha"]
            sq *= alpha
            sq += (1.0 - alpha) * (g * g)
            p -= lr * (g / (xp.sqrt(sq) + hp["eps"]))
        else:  # sgd, momentum, nesterov (torch.optim.SGD, dampening 0)
            if _nonzero(hp["weight_decay"]):
                g = g + wd * p
            if _nonzero(hp["momentum"]):
                mom = s.per_model(hp["momentum"], n)
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = xp.asarray(g, copy=True)
                else:
                    buf *= mom
                    buf += g
                g = g + mom * buf if name == "nesterov" else buf
            p -= lr * g


def _nonzero(values) -> bool:
    return any(float(v) != 0.0 for v in values)
