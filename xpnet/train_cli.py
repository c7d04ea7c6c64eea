"""What ``xpnet train`` does around the training: reading the data, BLAS threads, warnings, the report."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import TrainingInterrupted
from .config import RunConfig


def training_data(args: argparse.Namespace, seed: int):
    from .data import load_dataset, load_file, split_table

    if args.data is None:
        if args.target is not None or args.task is not None:
            raise ValueError("--target and --task apply to --data FILE")
        return load_dataset(args.dataset, test_size=args.test_size, val_size=args.val_size, seed=seed)
    table = load_file(args.data, target=args.target, task=args.task)
    return split_table(table, Path(args.data).name, args.test_size, args.val_size, seed)


TRAINING_COPIES = 5  # parameters, gradients, two optimizer moments and a best-epoch snapshot


def check_network_memory(layers: list[int], dtype: str, option: str = "--hidden") -> None:
    """Refuse, before allocating, a network whose training state would not fit in available memory."""
    from .io import parameter_bytes
    from .tabular import available_memory

    needed = parameter_bytes(layers, 8 if dtype == "float64" else 4) * TRAINING_COPIES
    free = available_memory()
    if free is not None and needed > free:
        raise MemoryError(
            f"{option}: the network {layers} has {parameter_bytes(layers, 1):,} parameters and needs about "
            f"{needed / 2**30:,.1f} GiB to train, more than the {free / 2**30:,.1f} GiB of memory available"
        )


def check_resume(path: str | None) -> None:
    """Read ``--resume`` now (a damaged or foreign file fails before the data is loaded)."""
    if path is None:
        return
    from .checkpoint import FORMAT
    from .io import read_npz

    if not Path(path).is_file():
        raise FileNotFoundError(f"--resume {path}: no checkpoint file there")
    _, meta = read_npz(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"--resume {path} holds {meta.get('format')!r}, not an xpnet checkpoint")


def fit_quietly(trainer, stopping, ds, cfg: RunConfig, args: argparse.Namespace):
    """Train, keeping NumPy's RuntimeWarnings (overflow in a diverging run) from the user."""
    validation = (ds.X_val, ds.y_val) if len(ds.y_val) else None
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        options = {k: getattr(args, k) for k in ("log_every", "progress", "checkpoint", "checkpoint_every")}
        try:
            history = trainer.fit(
                ds.X_train, ds.y_train, validation, cfg.epochs, stopping, resume_from=args.resume, **options
            )
        except TrainingInterrupted as stopped:  # cleaned up already: report it and write the outputs
            history = stopped.history
    for w in caught:  # the divergence is reported by one line of our own; others pass through
        if not issubclass(w.category, RuntimeWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return history, validation


SMALL_NETWORK = 512 * 512  # weights in the largest layer up to which one BLAS thread trains fastest


def train_threads(threads: int | None, net) -> int | None:
    """BLAS threads for training: as asked (0: no limit), else 1 for a small network on numpy."""
    if threads is not None:
        if threads < 0:
            raise ValueError(f"--threads must be >= 0; got {threads}")
        return threads or None
    largest = max(a * b for a, b in zip(net.layers, net.layers[1:], strict=False))
    return 1 if net.backend.name == "numpy" and largest <= SMALL_NETWORK else None


def report(args: argparse.Namespace, result: dict[str, Any], history) -> None:
    if args.json:
        print(json.dumps(result))
    else:
        metric = (
            f"test loss {result['test_loss']:.5g}"
            if result["task"] == "regression"
            else f"test accuracy {result['test_accuracy']:.4f}"
        )
        val = (
            ""
            if result["val_accuracy"] is None or result["task"] == "regression"
            else (f" (val {result['val_accuracy']:.4f})")
        )
        print(
            f"{metric}{val} after {result['epochs']} epochs, "
            f"{result['train_seconds']:.2f} s of training on {result['backend']}"
        )
        for key in ("plot", "model"):
            if key in result:
                print(f"{key} saved to {result[key]}")
    if history.diverged:
        print(
            f"xpnet train: training diverged at epoch {history.diverged_epoch} (loss "
            f"{history.train_loss[-1]}); parameters of epoch {history.best_epoch or 0} kept; "
            "try a smaller --lr or --clip norm",
            file=sys.stderr,
        )
    elif history.interrupted_epoch is not None:
        resume = (
            f"resume with the same command plus --resume {args.checkpoint}"
            if args.checkpoint
            else "add --checkpoint FILE to be able to resume"
        )
        print(
            f"xpnet train: interrupted after epoch {history.interrupted_epoch}; best parameters "
            f"(epoch {history.best_epoch}) restored and outputs written; {resume}",
            file=sys.stderr,
        )
