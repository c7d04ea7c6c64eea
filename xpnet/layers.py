"""The layers of an MLP, each forward beside its backward, running on a backend's ops.

A layer holds no arrays: it names its parameters (``dense0.weight``, ``bn0.running_mean``...)
and reads them from the :class:`Pass` it runs in, so an optimizer updating the network's
parameter dict in place, or ``load_state_dict`` replacing entries, needs nothing from it.
``forward(ctx, x) -> (y, saved)`` and ``backward(ctx, saved, dy) -> (dx, grads)``; ``saved``
is whatever the backward needs and is opaque to the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pass:
    """One forward (and backward) pass: the ops, the arrays and the mode it runs in.

    ``running`` holds the batch-norm running statistics; ``keep_masks`` optionally fixes the
    dropout keep masks (0/1, one per dropout layer, in order); ``buffers`` hands out the step
    buffers a backend reuses (see :class:`xpnet.ops.Buffers`); training-mode batch-norm layers
    leave their batch statistics in ``batch_stats`` for the explicit running-statistics update.
    """

    ops: Any
    params: dict[str, Any]
    running: dict[str, Any]
    training: bool
    rng: Any = None
    keep_masks: list | None = None
    buffers: Any = None
    batch_stats: dict[str, Any] = field(default_factory=dict)

    def out(self, key: str, shape, dtype):
        """The step buffer ``key`` (None where the backend keeps none)."""
        return None if self.buffers is None else self.buffers(key, shape, dtype)


class Layer:
    """Base class: a name and the parameters and buffers it reads, with how each starts."""

    name: str = ""

    def key(self, name: str) -> str:
        return f"{self.name}.{name}"

    def parameters(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """``{key: (initial value, shape)}`` of trainable arrays; the value is ``"init"`` (the
        network's initializer), ``"zeros"`` or ``"ones"``."""
        return {}

    def running_buffers(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Non-trainable arrays (running statistics), in the same form as :meth:`parameters`."""
        return {}

    def forward(self, ctx: Pass, x):
        raise NotImplementedError

    def backward(self, ctx: Pass, saved, dy):
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class Dense(Layer):
    """``z = x @ W + b`` with ``W`` of shape ``(fan_in, fan_out)``; keys ``dense{i}.weight/bias``."""

    def __init__(self, index: int, fan_in: int, fan_out: int, first: bool = False):
        self.name, self.fan_in, self.fan_out, self.first = f"dense{index}", fan_in, fan_out, first
        # keys built once: a training step looks them up several times
        self.w, self.b = self.key("weight"), self.key("bias")
        self.z, self.dx, self.dW, self.db = (self.key(k) for k in ("z", "dx", "dW", "db"))

    def parameters(self):
        return {
            self.key("weight"): ("init", (self.fan_in, self.fan_out)),
            self.key("bias"): ("zeros", (self.fan_out,)),
        }

    def forward(self, ctx, x):
        W, b, buffers = ctx.params[self.w], ctx.params[self.b], ctx.buffers
        out = None if buffers is None else buffers(self.z, x.shape[:-1] + W.shape[-1:], W.dtype)
        return ctx.ops.dense(x, W, b, out=out), x

    def backward(self, ctx, x, dz):
        W, b, buffers = ctx.params[self.w], ctx.params[self.b], ctx.buffers
        out = None
        if buffers is not None:
            dx = None if self.first else buffers(self.dx, x.shape, x.dtype)
            out = (dx, buffers(self.dW, W.shape, W.dtype), buffers(self.db, b.shape, b.dtype))
        dx, dW, db = ctx.ops.dense_backward(x, W, dz, need_dx=not self.first, out=out)
        return dx, {self.w: dW, self.b: db}

    def describe(self):
        return f"{self.name}: {self.fan_in} -> {self.fan_out}"


class BatchNorm(Layer):
    """``torch.nn.BatchNorm1d`` over the features; running statistics change only in :meth:`update`."""

    def __init__(self, index: int, width: int):
        self.name, self.width = f"bn{index}", width
        self.w, self.b = self.key("weight"), self.key("bias")
        self.mean, self.var = self.key("running_mean"), self.key("running_var")

    def parameters(self):
        return {self.key("weight"): ("ones", (self.width,)), self.key("bias"): ("zeros", (self.width,))}

    def running_buffers(self):
        return {
            self.key("running_mean"): ("zeros", (self.width,)),
            self.key("running_var"): ("ones", (self.width,)),
        }

    def forward(self, ctx, z):
        p, b = ctx.params, ctx.running
        out, saved, stats = ctx.ops.batch_norm(
            z, p[self.w], p[self.b], b[self.mean], b[self.var], ctx.training
        )
        if stats is not None:
            ctx.batch_stats[self.name] = stats
        return out, saved

    def backward(self, ctx, saved, dout):
        dz, dgamma, dbeta = ctx.ops.batch_norm_backward(saved, ctx.params[self.w], dout, ctx.training)
        return dz, {self.w: dgamma, self.b: dbeta}

    def update(self, ops, buffers: dict[str, Any], stats) -> None:
        """Fold one training batch's statistics into the running ones (the explicit step)."""
        buffers[self.mean], buffers[self.var] = ops.batch_norm_update(
            buffers[self.mean], buffers[self.var], stats
        )

    def describe(self):
        return "batch_norm"


class Activation(Layer):
    """An elementwise (or row-wise, for softmax) activation; it owns no parameters."""

    def __init__(self, index: int, function: str):
        self.name, self.function = f"act{index}", function
        # the op names, built once (what Ops.activation/activation_backward look up per call)
        self.forward_op, self.backward_op = f"{function}_forward", f"{function}_backward"

    def forward(self, ctx, z):
        # z is this pass's own array (a dense or batch-norm output), so it may be overwritten
        return getattr(ctx.ops, self.forward_op)(z, True)

    def backward(self, ctx, saved, da):
        return getattr(ctx.ops, self.backward_op)(saved, da, True), {}

    def describe(self):
        return self.function


class Dropout(Layer):
    """Inverted dropout with rate ``p``: active in training, the identity in evaluation."""

    def __init__(self, index: int, p: float, order: int):
        self.name, self.p, self.order = f"dropout{index}", p, order
        self.out_key = self.key("out")

    def forward(self, ctx, a):
        if not ctx.training:
            return a, None
        keep = None if ctx.keep_masks is None else ctx.keep_masks[self.order]
        out = ctx.out(self.out_key, a.shape, a.dtype)
        return ctx.ops.dropout(a, self.p, rng=ctx.rng, keep=keep, out=out)

    def backward(self, ctx, mask, da):
        return ctx.ops.dropout_backward(mask, da, inplace=True), {}

    def describe(self):
        return f"dropout {self.p:g}"


def build_layers(sizes: list[int], activation: str, dropout: float, batch_norm: bool) -> list[Layer]:
    """``dense -> [batch norm] -> activation -> [dropout]`` per hidden layer, then the output dense."""
    layers: list[Layer] = []
    n_hidden = len(sizes) - 2
    for i in range(n_hidden):
        layers.append(Dense(i, sizes[i], sizes[i + 1], first=i == 0))
        if batch_norm:
            layers.append(BatchNorm(i, sizes[i + 1]))
        layers.append(Activation(i, activation))
        if dropout > 0.0:
            layers.append(Dropout(i, dropout, order=i))
    layers.append(Dense(n_hidden, sizes[-2], sizes[-1], first=n_hidden == 0))
    return layers
