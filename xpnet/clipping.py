"""Gradient clipping settings; the clipping itself is the backend op ``Ops.clip``.

It is branch-free on the device (no host sync to decide whether to clip):

- ``value``: clamp every element to ``[-t, t]`` (``torch.nn.utils.clip_grad_value_``).
- ``norm``: scale each tensor so its L2 norm is at most ``t`` (the article's per-tensor rule).
- ``global_norm``: scale all tensors together so their joint L2 norm is at most ``t``
  (``torch.nn.utils.clip_grad_norm_``, including its ``1e-6`` guard).
"""

from __future__ import annotations

from typing import Any

from .validation import check_choice, check_positive

CLIP_KINDS = ("value", "norm", "global_norm")


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
