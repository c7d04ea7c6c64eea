"""Many networks at once: :func:`fit_many` trains K run configs and returns K ordinary models.

Each result is exactly what ``cfg.build(...)`` followed by ``trainer.fit(X, y, (X_val, y_val),
**cfg.fit_kwargs())`` gives for that config alone (same parameters, same loss curve): the
reference :func:`fit_each` does precisely that, one config after another. Configs that can
share one set of batched matmuls train stacked (see :mod:`xpnet.many_stack`).

What must match across all configs: ``backend``, ``device``, ``dtype``, ``loss`` and
``output`` (one data layout and one output layer for all). Everything else may differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from .config import RunConfig
from .history import EarlyStopping, History
from .network import MLP
from .validation import check_sequence_of

__all__ = ["SHARED_FIELDS", "FitResult", "OnEpoch", "fit_each", "fit_many"]

# Fields every config of one fit_many call must share.
SHARED_FIELDS = ("backend", "device", "dtype", "loss", "output")

# on_epoch(epoch, histories, active) -> indices of members to stop now (or None)
OnEpoch = Callable[[int, list[History], list[bool]], Iterable[int] | None]


class FitResult(NamedTuple):
    """One member's outcome: the trained :class:`~xpnet.MLP` and its :class:`~xpnet.History`."""

    model: MLP
    history: History


def check_configs(configs: Any) -> list[RunConfig]:
    """``configs`` as a non-empty list of RunConfigs sharing :data:`SHARED_FIELDS`, or an error naming what differs."""
    configs = check_sequence_of(configs, RunConfig, "configs")
    first = configs[0]
    for name in SHARED_FIELDS:
        for i, cfg in enumerate(configs):
            if getattr(cfg, name) != getattr(first, name):
                raise ValueError(
                    f"configs[{i}].{name}={getattr(cfg, name)!r} differs from configs[0].{name}="
                    f"{getattr(first, name)!r}; fit_many needs one {', '.join(SHARED_FIELDS)} for all configs"
                )
    return configs


def check_data(X_val, y_val) -> None:
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together (both or neither)")


def check_on_epoch(on_epoch: Any) -> None:
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be None or a callable (epoch, histories, active); got {on_epoch!r}")


def stop_indices(on_epoch: OnEpoch | None, epoch: int, histories, active, k: int) -> set[int]:
    """The member indices ``on_epoch`` asks to stop (checked to lie in ``range(k)``)."""
    if on_epoch is None:
        return set()
    asked = on_epoch(epoch, histories, active)
    out = set()
    for i in asked or ():
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < k:
            raise ValueError(f"on_epoch returned {i!r}; it must return member indices in 0..{k - 1}")
        out.add(int(i))
    return out


def target_width(cfg: RunConfig, y, y_val=None) -> int:
    """Output units for ``cfg`` on targets ``y`` (class indices: the largest label seen + 1 classes)."""
    arr = np.asarray(y)
    if arr.ndim == 2 and (arr.shape[1] > 1 or cfg.output == "identity"):  # one-hot or multi-output
        return int(arr.shape[1])
    if cfg.output == "identity":
        return 1
    labels = [arr] if y_val is None else [arr, np.asarray(y_val)]
    n_classes = max(int(np.max(a)) + 1 if np.size(a) else 1 for a in labels)
    return cfg.n_outputs(max(n_classes, 2))


def fit_one(cfg: RunConfig, X, y, X_val, y_val, n_outputs: int, on_epoch=None, index=0, histories=None):
    """Train one config exactly as ``Trainer.fit`` does (no checkpoints), asking ``on_epoch`` after each epoch."""
    net, trainer, stopping = cfg.build(int(np.shape(X)[1]), n_outputs)
    validation = None if X_val is None else (X_val, y_val)
    data = trainer._prepare(X, y, validation, stopping, None, None)  # noqa: SLF001
    stopper = stopping or EarlyStopping(patience=None, restore_best=False)
    trainer.stopper = stopper
    history, _ = trainer._start(None, cfg.epochs, stopper)  # noqa: SLF001
    histories = [History() for _ in range(index + 1)] if histories is None else histories
    histories[index] = history
    active = [False] * len(histories)
    for epoch in range(1, cfg.epochs + 1):
        if trainer._epoch_step(epoch, data, history, []):  # noqa: SLF001
            break
        active[index] = True
        if index in stop_indices(on_epoch, epoch, histories, active, len(histories)):
            history.stopped_epoch = epoch
            break
    trainer._finish(history, stopper, data)  # noqa: SLF001
    return FitResult(net, history)


def fit_each(
    configs, X, y, X_val=None, y_val=None, *, on_epoch: OnEpoch | None = None, n_outputs: int | None = None
) -> list[FitResult]:
    """The reference: each config built and trained alone, one after another (what :func:`fit_many` equals)."""
    configs = check_configs(configs)
    check_data(X_val, y_val)
    check_on_epoch(on_epoch)
    n_outputs = target_width(configs[0], y, y_val) if n_outputs is None else n_outputs
    histories = [History() for _ in configs]
    return [
        fit_one(cfg, X, y, X_val, y_val, n_outputs, on_epoch, i, histories) for i, cfg in enumerate(configs)
    ]


def group_key(cfg: RunConfig) -> tuple:
    """What members of one stacked group share (everything else may differ per member)."""
    return (
        len(cfg.hidden),
        cfg.activation,
        cfg.batch_norm,
        cfg.batch_size,
        cfg.shuffle,
        cfg.optimizer,
        cfg.clip,
    )


def fit_many(
    configs, X, y, X_val=None, y_val=None, *, on_epoch: OnEpoch | None = None, n_outputs: int | None = None
) -> list[FitResult]:
    """Train every config in ``configs`` on ``(X, y)``; one :class:`FitResult` per config, in order.

    Each member ends as ``cfg.build(n_features, n_outputs)`` trained alone with
    ``trainer.fit(X, y, (X_val, y_val), **cfg.fit_kwargs())`` would, to rounding (its own
    initializer, seed, batch order, dropout masks, optimizer, schedule, clipping and early
    stopping). All configs must share ``backend``, ``device``, ``dtype``, ``loss`` and ``output``.
    Members sharing depth, activation, batch norm, batch size, shuffling, optimizer and clipping
    kind train stacked (widths padded to the widest); the groups train side by side, epoch by epoch.

    ``on_epoch(epoch, histories, active)``, if given, is called after every epoch (epoch is
    1-based; ``histories[i]`` holds member i's epochs so far, ``active[i]`` is False for members
    already stopped); the member indices it returns stop now, keeping their parameters (or their
    best, when their own early stopping restores it), with ``history.stopped_epoch`` set.
    Members left running are unaffected. ``n_outputs`` defaults to the width the targets
    imply (class indices: the largest label in ``y``/``y_val`` + 1 classes).
    """
    from .many_stack import Group
    from .many_state import build_member

    configs = check_configs(configs)
    check_data(X_val, y_val)
    check_on_epoch(on_epoch)
    n_outputs = target_width(configs[0], y, y_val) if n_outputs is None else n_outputs
    n_features = int(X.shape[1]) if hasattr(X, "shape") and len(X.shape) == 2 else int(np.shape(X)[1])
    members = [build_member(i, cfg, n_features, n_outputs) for i, cfg in enumerate(configs)]
    grouped: dict[tuple, list] = {}
    for m in members:
        grouped.setdefault(group_key(m.cfg), []).append(m)
    validation = None if X_val is None else (X_val, y_val)
    groups = [Group(ms, X, y, validation) for ms in grouped.values()]
    histories = [m.history for m in members]
    epoch = 0
    while any(g.members for g in groups):
        epoch += 1
        running = [g for g in groups if g.members]
        active = [False] * len(members)
        for g in running:
            g.epoch(epoch)
            for i, flag in g.active().items():
                active[i] = flag
        stops = {i for i in stop_indices(on_epoch, epoch, histories, active, len(members)) if active[i]}
        for g in running:
            g.stop(stops, epoch)
            g.compact()
    return [FitResult(m.net, m.history) for m in members]
