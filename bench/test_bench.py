"""Epoch throughput per (workload, runner): xpnet backends, a PyTorch loop, scikit-learn's MLP.

Each benchmark trains one epoch of plain SGD; ``extra_info`` holds samples/s and GFLOP/s
(6 x samples x weights per epoch). ``xpnet bench`` runs the same workloads interleaved, for
honest ratios; this suite gives pytest-benchmark's statistics and history. The ``seed``
workload runs in float64 and float32, single-threaded, with the article's own NumPy loop too.
"""

from __future__ import annotations

import math
import statistics
import time

import pytest

from xpnet.bench import WORKLOADS, Spec, make_runner, runs_on, thread_limit

RUNNERS = {
    "xpnet-numpy": Spec("xpnet", "numpy"),
    "xpnet-torch": Spec("xpnet", "torch"),
    "xpnet-cupy": Spec("xpnet", "cupy"),
    "torch": Spec("torch"),
    "sklearn": Spec("sklearn"),
    "article": Spec("article"),
}
# (workload, dtype, runner) wherever the runner runs on the workload (the article's loop: seed only);
# float32 unless the workload has its own dtypes, and the id names any second dtype
CASES = [
    pytest.param(name, dtype, runner, id=f"{name if i == 0 else f'{name}-{dtype}'}-{runner}")
    for name, w in WORKLOADS.items()
    for i, dtype in enumerate(w.run_dtypes("float32"))
    for runner, spec in RUNNERS.items()
    if runs_on(spec, w)
]


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


@pytest.mark.parametrize("workload_name, dtype, runner_name", CASES)
def test_epoch(benchmark, bench_data, bench_size, workload_name, dtype, runner_name):
    spec = RUNNERS[runner_name]
    workload = WORKLOADS[workload_name]
    reason = _available(spec)
    if reason:
        pytest.skip(reason + (" (needs a CUDA GPU)" if spec.backend == "cupy" else ""))
    X, y = bench_data(workload_name, dtype)
    runner = make_runner(spec, workload, X, y, dtype)
    times: list[float] = []
    losses: list[float] = []

    def epoch():
        start = time.perf_counter()
        losses.append(float(runner.epoch()))
        times.append(time.perf_counter() - start)

    benchmark.group = (
        f"{workload_name} ({bench_size})" if dtype == "float32" else f"{workload_name} {dtype} ({bench_size})"
    )
    rounds = 5 if bench_size == "full" else 1
    warmup = 1 if bench_size == "full" else 0
    with thread_limit(runner.threads):  # seed: single-threaded, as issue 11 compares it
        benchmark.pedantic(epoch, rounds=rounds, warmup_rounds=warmup)
    assert len(times) == warmup + rounds
    times = times[warmup:]  # the warm-up round is not a timed sample
    n = X.shape[0]
    seconds = statistics.median(times)
    benchmark.extra_info.update(
        workload=workload_name,
        runner=runner.name,
        device=runner.device,
        device_name=runner.device_name,
        size=bench_size,
        dtype=dtype,
        threads=runner.threads,
        n_samples=n,
        batch_size=workload.effective_batch(n),
        samples_per_s=n / seconds,
        gflops=workload.flops_exact(n) / seconds / 1e9,  # the matmul work actually done
    )
    assert losses and all(math.isfinite(v) for v in losses), f"{runner.name} epoch losses {losses}"
    later = [float(runner.epoch()) for _ in range(3)]  # the timed epoch really trained the network
    assert later[-1] < losses[0], f"{runner.name} loss {losses[0]} -> {later}"
