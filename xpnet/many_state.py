"""The members of a stacked group: each one's own objects, and its arrays padded and stacked.

A :class:`Member` is one config built exactly as it would be alone (network, trainer with its
optimizer and schedule, early stopping). :func:`stack_members` pads every member's parameters to
the group's widths with zeros (masked units: their weights, gradients and updates stay zero, so
each model's math is its own) and stacks them along a leading model axis;
:meth:`Member.unpad` cuts a member's own arrays back out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import RunConfig
from .history import EarlyStopping, History
from .many_step import Stack
from .network import MLP
from .training import Trainer
from .validation import to_host


@dataclass(eq=False)
class Member:
    """One config of a group: its index in ``fit_many``'s list and its own run objects."""

    index: int
    cfg: RunConfig
    net: MLP
    trainer: Trainer
    stopping: EarlyStopping | None
    stopper: EarlyStopping | None = None
    history: History | None = None
    stop_now: bool = False
    monitored: float = float("nan")

    @property
    def widths(self) -> tuple[int, ...]:
        """The hidden widths."""
        return tuple(self.net.layers[1:-1])

    def unpad(self, stacked: dict[str, Any], j: int) -> dict[str, Any]:
        """Row ``j`` of stacked arrays, cut to this member's own shapes (a state dict for its network)."""
        own = self.net.state_dict(copy=False)
        out = {}
        for key, ref in own.items():
            row = stacked[key][j, ...]
            out[key] = row[: ref.shape[0], : ref.shape[1]] if ref.ndim == 2 else row[: ref.shape[0]]
        return out


def build_member(index: int, cfg: RunConfig, n_features: int, n_outputs: int) -> Member:
    net, trainer, stopping = cfg.build(n_features, n_outputs)
    return Member(index, cfg, net, trainer, stopping)


def stack_members(members: list[Member]) -> Stack:
    """The group's :class:`~xpnet.many_step.Stack`: padded, stacked parameters and buffers."""
    first = members[0]
    net = first.net
    be, xp = net.backend, net.xp
    widths = [max(w) for w in zip(*(m.widths for m in members), strict=True)]
    padded = any(m.widths != tuple(widths) for m in members)
    params, buffers, masks = {}, {}, {}
    for key in net.state_dict(copy=False):
        rows, ones = [], []
        for m in members:
            host = to_host(m.net.state_dict(copy=False)[key], key)
            fill = 1.0 if key.endswith("running_var") else 0.0
            shape = _padded_shape(key, host.shape, widths, net.layers)
            rows.append(_pad(host, shape, fill))
            ones.append(_pad(np.ones_like(host), shape, 0.0))
        value = be.asarray(np.stack(rows), dtype=net._dtype)  # noqa: SLF001
        if key in net.params:
            params[key] = value
            if padded:
                masks[key] = be.asarray(np.stack(ones), dtype=net._dtype)  # noqa: SLF001
        else:
            buffers[key] = value
    drops = [m.cfg.dropout for m in members]
    dropout = None
    if any(p > 0.0 for p in drops):
        scale = [1.0 / (1.0 - p) for p in drops]
        dropout = scale[0] if all(v == scale[0] for v in scale) else None
        if dropout is None:
            arr = xp.asarray(np.asarray(scale), dtype=net._dtype, device=be.device)  # noqa: SLF001
            dropout = xp.reshape(arr, (len(members), 1, 1))
    cfg = first.cfg
    return Stack(
        ops=be,
        n_hidden=net.n_hidden,
        activation=cfg.activation,
        output=cfg.output,
        loss=cfg.loss,
        batch_norm=cfg.batch_norm,
        params=params,
        buffers=buffers,
        grad_masks=masks if padded else None,
        dropout=dropout,
    )


def _padded_shape(key: str, shape: tuple[int, ...], widths: list[int], layers) -> tuple[int, ...]:
    """The group's shape for parameter ``key`` (``dense{i}`` / ``bn{i}``), hidden widths ``widths``."""
    sizes = [layers[0], *widths, layers[-1]]
    layer, name = key.split(".")
    i = int(layer.removeprefix("dense").removeprefix("bn"))
    if layer.startswith("bn"):
        return (sizes[i + 1],)
    if name == "weight":
        return (sizes[i], sizes[i + 1])
    return (sizes[i + 1],)


def _pad(a: np.ndarray, shape: tuple[int, ...], fill: float) -> np.ndarray:
    if a.shape == shape:
        return a
    out = np.full(shape, fill, dtype=a.dtype)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def per_model_settings(members: list[Member]) -> dict[str, Any]:
    """Per-model optimizer hyperparameters (lists, one per member, read from each member's optimizer)."""
    opts = [m.trainer.optimizer for m in members]
    hp: dict[str, Any] = {
        "lr": [o.lr for o in opts],
        "weight_decay": [o.weight_decay for o in opts],
        "momentum": [getattr(o, "momentum", 0.0) for o in opts],
        "clip": [m.trainer.clip[1] if m.trainer.clip else 0.0 for m in members],
    }
    first = opts[0]
    if hasattr(first, "betas"):
        hp["betas"], hp["eps"] = first.betas, first.eps
    if hasattr(first, "alpha"):
        hp["alpha"], hp["eps"] = first.alpha, first.eps
    return hp
