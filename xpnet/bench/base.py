"""What every runner shares: the Runner record, the Spec of what to run, thread caps, machine names."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..threads import blas_threads


@dataclass
class Runner:
    """A named epoch function plus what the record says about where it ran.

    ``epoch`` is a zero-argument callable that trains one epoch, syncs, and returns the loss;
    ``settings`` is what the runner actually built (layers, activation, dtype, optimizer, lr,
    batch size), read back from its objects so tests can check that runners compare like with like.
    """

    name: str  # e.g. "xpnet-numpy", "torch", "sklearn", "article"
    kind: str  # "xpnet" or "reference"
    device: str  # "cpu", "cuda:0"
    device_name: str
    epoch: Callable[[], Any]
    threads: int | None = None  # BLAS/OpenMP threads it is timed with (None: the libraries' default)
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """What to run: an xpnet backend or a reference (torch, torch-compile, sklearn or article)."""

    kind: str  # "xpnet", "torch", "torch-compile", "sklearn", "article"
    backend: str = ""  # xpnet backend name
    device: str = "cpu"


def thread_limit(threads: int | None):
    """At most ``threads`` BLAS/OpenMP threads and PyTorch intra-op threads inside; None: no cap.

    Entering costs a scan of the loaded libraries, so wrap a timed block, not each epoch.
    """
    return blas_threads(threads, torch_threads=True)


def limited(fn: Callable[[], Any], threads: int | None) -> Callable[[], Any]:
    """``fn`` run under :func:`thread_limit` (``fn`` itself when ``threads`` is None)."""
    if threads is None:
        return fn

    def call():
        with thread_limit(threads):
            return fn()

    return call


def torch_cuda() -> bool:
    """True when PyTorch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def cpu_name() -> str:
    """The CPU's model name and core count, for the records."""
    from ..backend import Backend

    name = Backend().device_name
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"
