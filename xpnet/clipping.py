"""Gradient clipping, branch-free on the device (no host sync to decide whether to clip).

- ``value``: clamp every element to ``[-t, t]`` (``torch.nn.utils.clip_grad_value_``).
- ``norm``: scale each tensor so its L2 norm is at most ``t`` (the article's per-tensor rule).
- ``global_norm``: scale all tensors together so their joint L2 norm is at most ``t``
  (``torch.nn.utils.clip_grad_norm_``, including its ``1e-6`` guard).
"""

from __future__ import annotations

from typing import Any

from .validation import check_choice, check_positive

CLIP_KINDS = ("value", "norm", "global_norm")
NORM_EPS = 1e-6  # torch's clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6)


def check_clip(clip: Any) -> tuple[str, float] | None:
    """Validate a ``(kind, threshold)`` pair (or None for no clipping)."""
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise TypeError(
            f"clip must be None or a (kind, threshold) pair like ('global_norm', 1.0); got {clip!r}"
        )
    kind = check_choice(clip[0], "clip kind", CLIP_KINDS)
    return kind, check_positive(clip[1], "clip threshold")


def global_norm(xp, grads: dict[str, Any]):
    """The L2 norm of all gradients together, as a 0-d device array."""
    total = None
    for g in grads.values():
        s = xp.sum(g * g)
        total = s if total is None else total + s
    return xp.sqrt(total)


def clip_grads(xp, grads: dict[str, Any], kind: str, threshold: float) -> dict[str, Any]:
    """Return clipped copies of ``grads`` (a dict of arrays keyed by parameter name)."""
    if kind == "value":
        return {k: xp.clip(g, min=-threshold, max=threshold) for k, g in grads.items()}
    if kind == "norm":
        return {
            k: g * xp.clip(threshold / (xp.sqrt(xp.sum(g * g)) + NORM_EPS), max=1.0) for k, g in grads.items()
        }
    if kind == "global_norm":
        scale = xp.clip(threshold / (global_norm(xp, grads) + NORM_EPS), max=1.0)
        return {k: g * scale for k, g in grads.items()}
    raise ValueError(f"clip kind={kind!r} is unknown; choose one of {', '.join(CLIP_KINDS)}")
