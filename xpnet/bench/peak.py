"""The GEMM peak: the best measured ``n x n`` matmul GFLOP/s of the libraries on a device."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def gemm_peak(device: str = "cpu", dtype: str = "float32", n: int = 4096, repeats: int = 3) -> dict:
    """Measured matmul GFLOP/s of ``n x n`` by ``n x n`` on ``device`` (best of the libraries there)."""
    flops = 2.0 * n**3
    best: dict[str, float] = {}
    if device == "cpu":
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        b = np.random.default_rng(1).standard_normal((n, n)).astype(dtype)
        c = np.empty_like(a)
        best["numpy"] = flops / best_time(lambda: np.matmul(a, b, out=c), repeats) / 1e9
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and (device == "cpu" or torch.cuda.is_available()):
        dev = torch.device(device)
        ta = torch.randn(n, n, dtype=getattr(torch, dtype), device=dev)
        tb = torch.randn(n, n, dtype=getattr(torch, dtype), device=dev)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

        def mm():
            torch.matmul(ta, tb)
            sync()

        best["torch"] = flops / best_time(mm, repeats) / 1e9
    if device != "cpu":
        try:
            import cupy as cp

            ca = cp.random.standard_normal((n, n), dtype=dtype)
            cb = cp.random.standard_normal((n, n), dtype=dtype)

            def cmm():
                ca @ cb
                cp.cuda.Device().synchronize()

            best["cupy"] = flops / best_time(cmm, repeats) / 1e9
        except Exception:  # cupy missing or no device: torch's figure stands
            pass
    if not best:
        raise RuntimeError(f"no library could run a matmul on device {device!r}")
    lib = max(best, key=best.get)
    return {"device": device, "dtype": dtype, "n": n, "gflops": best[lib], "library": lib, "by_library": best}


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` timed calls of ``fn``, after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
