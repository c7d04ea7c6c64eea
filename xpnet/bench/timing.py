"""Timing: interleaved rounds over the runners, and blocks of short epochs timed as one sample."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def measure(
    epochs: dict[str, Callable[[], float]],
    repeats: int = 3,
    warmup: int = 1,
    settle: float = 0.0,
    failed: dict[str, str] | None = None,
) -> dict[str, list[float]]:
    """Epoch seconds per named epoch function; rounds rotate (A B C, B C A, ...) so drift cancels.

    ``settle`` seconds of sleep before each timed call let the previous runner's idle
    BLAS/OpenMP threads stop spinning, so they do not steal the next runner's cores.
    With ``failed`` (a dict), a runner whose call raises is dropped from the rest of the run,
    its error recorded there by name, and the others go on; without it the error propagates.
    """
    names = list(epochs)
    times: dict[str, list[float]] = {name: [] for name in names}
    dead: set[str] = set()

    def call(name: str, sink: list[float] | None) -> None:
        try:
            value = epochs[name]()
        except Exception as exc:
            if failed is None:
                raise
            failed[name] = f"{type(exc).__name__}: {exc}"
            dead.add(name)
            return
        if sink is not None:
            sink.append(value)

    for name in names:
        for _ in range(warmup):
            if name not in dead:
                call(name, None)
    for i in range(repeats):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            if name in dead:
                continue
            if settle:
                time.sleep(settle)
            call(name, times[name])
    return {name: t for name, t in times.items() if name not in dead}


def timed(fn: Callable[[], Any], min_seconds: float = 0.0) -> Callable[[], float]:
    """A call running ``fn`` until ``min_seconds`` have passed (at least once): median seconds per run.

    Millisecond epochs are timed in blocks, so one sample is not one scheduler hiccup.
    """

    def call() -> float:
        times: list[float] = []
        start = last = time.perf_counter()
        while True:
            fn()
            now = time.perf_counter()
            times.append(now - last)
            last = now
            if now - start >= min_seconds:
                return statistics.median(times)

    return call
