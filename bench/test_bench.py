"""Epoch throughput per (workload, runner): xpnet backends, a PyTorch loop, scikit-learn's MLP.

Each benchmark trains one epoch of plain SGD; ``extra_info`` holds samples/s and GFLOP/s
(6 x samples x weights per epoch). ``xpnet bench`` runs the same workloads interleaved, for
honest ratios; this suite gives pytest-benchmark's statistics and history.
"""

from __future__ import annotations

import math
import statistics
import time

import pytest

from xpnet.bench import WORKLOADS, Spec, make_runner

RUNNERS = {
    "xpnet-numpy": Spec("xpnet", "numpy"),
    "xpnet-torch": Spec("xpnet", "torch"),
    "xpnet-cupy": Spec("xpnet", "cupy"),
    "torch": Spec("torch"),
    "sklearn": Spec("sklearn"),
}


def _available(spec: Spec) -> str | None:
    """None if ``spec`` can run here, else the reason it cannot."""
    if spec.kind == "xpnet":
        from xpnet import get_backend

        try:
            get_backend(spec.backend)
        except (ImportError, ValueError) as exc:
            return f"xpnet backend {spec.backend!r} unavailable: {str(exc).splitlines()[0]}"
    if spec.kind == "torch" or spec.backend == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            return "PyTorch is not installed"
    return None


@pytest.mark.parametrize("runner_name", list(RUNNERS))
@pytest.mark.parametrize("workload_name", list(WORKLOADS))
def test_epoch(benchmark, bench_data, bench_size, workload_name, runner_name):
    spec = RUNNERS[runner_name]
    reason = _available(spec)
    if reason:
        pytest.skip(reason + (" (needs a CUDA GPU)" if spec.backend == "cupy" else ""))
    workload = WORKLOADS[workload_name]
    X, y = bench_data(workload_name)
    runner = make_runner(spec, workload, X, y)
    times: list[float] = []
    losses: list[float] = []

    def epoch():
        start = time.perf_counter()
        losses.append(float(runner.epoch()))
        times.append(time.perf_counter() - start)

    benchmark.group = f"{workload_name} ({bench_size})"
    rounds = 5 if bench_size == "full" else 1
    benchmark.pedantic(epoch, rounds=rounds, warmup_rounds=1 if bench_size == "full" else 0)
    n = X.shape[0]
    seconds = statistics.median(times)
    benchmark.extra_info.update(
        workload=workload_name,
        runner=runner.name,
        device=runner.device,
        device_name=runner.device_name,
        size=bench_size,
        n_samples=n,
        batch_size=workload.effective_batch(n),
        samples_per_s=n / seconds,
        gflops=workload.flops(n) / seconds / 1e9,
    )
    assert losses and all(math.isfinite(v) for v in losses), f"{runner.name} epoch losses {losses}"
