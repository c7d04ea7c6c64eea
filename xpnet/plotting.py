"""Loss curves: raw and exponentially smoothed train/validation loss, saved as PNG."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence


def ema(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Bias-corrected exponential moving average (TensorBoard's smoothing)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smooth={weight!r} must be in [0, 1)")
    out, avg, n = [], 0.0, 0
    for v in values:
        if math.isnan(v):
            out.append(math.nan)
            continue
        n += 1
        avg = weight * avg + (1.0 - weight) * v
        out.append(avg / (1.0 - weight**n))
    return out


def loss_curves(history, smooth: float = 0.9, path: str | os.PathLike | None = None, log_scale: bool = True):
    """Plot ``history``'s train and validation losses, raw (faint) and smoothed.

    Returns the matplotlib ``Figure``; with ``path`` also saves it as PNG.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, color in (("train_loss", "C0"), ("val_loss", "C1")):
        values = getattr(history, name)
        if not values or all(math.isnan(v) for v in values):
            continue
        label = name.replace("_", " ")
        ax.plot(history.epoch, values, color=color, alpha=0.25, linewidth=1)
        ax.plot(history.epoch, ema(values, smooth), color=color, label=f"{label} (smoothed)")
    if history.best_epoch:
        ax.axvline(history.best_epoch, color="grey", linestyle=":", label=f"best epoch {history.best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
