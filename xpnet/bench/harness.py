"""The interleaved run: GEMM peaks, then every workload's runners timed round by round, as records."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

from .base import Spec, cpu_name, limited
from .peak import gemm_peak
from .runners import REFERENCES, make_runner, plan, runs_on
from .timing import measure, timed
from .workers import Worker
from .workloads import WORKLOADS, Workload, make_data


class Session:
    """The runners of one run: each in its own worker process (``isolate``) or all in this one."""

    def __init__(self, specs: list[Spec], size: str, seed: int, isolate: bool):
        self.size, self.seed, self.isolate = size, seed, isolate
        self.block = 0.25 if size == "full" else 0.05  # seconds per timed sample (several short epochs)
        self.workers = {spec: Worker(spec) for spec in specs} if isolate else {}
        self._data_key: tuple | None = None
        self._data: tuple = ()

    def peak(self, device: str, dtype: str) -> dict:
        """The GEMM peak on ``device``; in its own process too, so matmul threads stay out of the runners."""
        args = (device, dtype, 4096 if self.size == "full" else 2048)
        if not self.isolate:
            return gemm_peak(*args)
        worker = Worker(Spec("peak", device=device))
        try:
            return worker.call("peak", *args)
        finally:
            worker.close()

    def setup(self, spec: Spec, w: Workload, dtype: str) -> tuple[Callable[[], float], tuple]:
        """A function timing one sample of ``spec``'s epochs on ``w``, and the runner's record info."""
        if self.isolate:
            worker = self.workers[spec]
            info = worker.call("setup", spec, w.name, self.size, dtype, self.seed)
            return (lambda: worker.call("epoch", self.block)), info
        if self._data_key != (w.name, dtype):  # one data set at a time: `wide` alone is 188 MB
            self._data_key, self._data = (w.name, dtype), make_data(w, self.size, dtype, self.seed)
        X, y = self._data
        r = make_runner(spec, w, X, y, dtype, self.seed)
        info = (r.name, r.kind, r.device, r.device_name, X.shape[0])
        return limited(timed(r.epoch, self.block), r.threads), info

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


def run(
    workloads: list[str] | None = None,
    backends: list[str] | None = None,
    references: tuple[str, ...] = REFERENCES,
    repeats: int = 3,
    size: str = "full",
    dtype: str = "float32",
    seed: int = 0,
    isolate: bool = True,
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], dict]:
    """Benchmark ``workloads`` x ``backends`` and the references; ``(records, meta)``.

    With ``isolate`` (default) each runner lives in its own process: NumPy's OpenBLAS threads
    and PyTorch's OpenMP threads spin after each call, and sharing one process (or a core)
    with spinning threads of another library would slow both down. A workload with its own
    ``dtypes`` runs once per dtype whatever ``dtype`` says (``seed``: float64 and float32).
    """
    workloads = list(WORKLOADS) if workloads is None else workloads
    backends = ["numpy"] if backends is None else backends
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workload {w!r} is unknown; choose from {', '.join(WORKLOADS)}")
    specs, skipped = plan(backends, references)
    session = Session(specs, size, seed, isolate)
    records: list[dict] = []
    try:
        peaks = _peaks(session, specs, [WORKLOADS[w] for w in workloads], dtype, log)
        for wname in workloads:
            for dt in WORKLOADS[wname].run_dtypes(dtype):
                records += _measure_group(session, specs, WORKLOADS[wname], dt, repeats, peaks, skipped, log)
    finally:
        session.close()
    load = _loadavg()
    for row in records:
        peak = peaks[row["device"], row["dtype"]]
        row.update(
            cores=os.cpu_count(), gemm_peak_library=peak["library"], gemm_peak_n=peak["n"], loadavg=load
        )
    meta = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "gemm_peak": {dev if dt == dtype else f"{dev} {dt}": p for (dev, dt), p in peaks.items()},
        "size": size,
        "repeats": repeats,
        "skipped": skipped,
        "loadavg_after": load,
        "flops_convention": "6 x samples x weights (gflops); gflops_exact omits layer 0's input gradient",
    }
    return records, meta


def _peaks(session: Session, specs: list[Spec], workloads: list[Workload], dtype: str, log) -> dict:
    """The GEMM peak per (device, dtype) the run needs, measured before any workload."""
    dtypes = dict.fromkeys(dt for w in workloads for dt in w.run_dtypes(dtype))
    peaks: dict[tuple[str, str], dict] = {}
    for dt in dtypes:
        for device in dict.fromkeys(spec.device for spec in specs):
            peaks[device, dt] = session.peak(device, dt)
            if log:
                label = device if dt == dtype else f"{device} {dt}"
                log(f"GEMM peak {label}: {peaks[device, dt]['gflops']:.1f} GFLOP/s")
    return peaks


def _measure_group(
    session: Session,
    specs: list[Spec],
    w: Workload,
    dtype: str,
    repeats: int,
    peaks: dict,
    skipped: dict[str, str],
    log,
) -> list[dict]:
    """Interleaved epochs of every runner on ``w`` in ``dtype``: one record per runner."""
    group = w.name if w.dtypes is None else f"{w.name} {dtype}"
    epochs: dict[str, Callable[[], float]] = {}
    info: dict[str, tuple] = {}
    for spec in specs:
        if not runs_on(spec, w):
            continue
        try:
            epochs[_label(spec)], info[_label(spec)] = session.setup(spec, w, dtype)
        except Exception as exc:
            skipped[f"{_label(spec)} on {group}"] = str(exc)
    if log:
        log(f"{group}: {', '.join(epochs)} x {repeats} interleaved epochs")
    try:
        times = measure(epochs, repeats, settle=0.1 if session.size == "full" else 0.02)
    except RuntimeError as exc:
        skipped[group] = str(exc)
        return []
    rows = [_record(w, info[k], times[k], dtype, peaks[info[k][2], dtype]) for k in epochs]
    _add_ratio(rows, "torch", "ratio_to_torch")
    _add_ratio(rows, "article", "ratio_to_article")
    return rows


def _label(spec: Spec) -> str:
    name = f"xpnet-{spec.backend}" if spec.kind == "xpnet" else spec.kind
    return f"{name}@{spec.device}"


def _add_ratio(rows: list[dict], reference: str, key: str) -> None:
    """``row[key]``: samples/s over the ``reference`` runner's on the same device (None without one)."""
    ref = {row["device"]: row["samples_per_s"] for row in rows if row["backend"] == reference}
    for row in rows:
        base = ref.get(row["device"])
        row[key] = None if base is None else row["samples_per_s"] / base


def _record(w: Workload, info: tuple, times: list[float], dtype: str, peak: dict) -> dict:
    name, kind, device, device_name, n = info
    med = statistics.median(times)
    gflops = w.flops(n) / med / 1e9
    return {
        "workload": w.name,
        "backend": name,
        "kind": kind,
        "device": device,
        "device_name": device_name,
        "dtype": dtype,
        "threads": w.threads,
        "batch_size": w.effective_batch(n),
        "n_samples": n,
        "epoch_s_median": med,
        "epoch_s_min": min(times),
        "epoch_s_max": max(times),
        "epoch_s_all": times,
        "samples_per_s": n / med,
        "gflops": gflops,
        "gflops_exact": w.flops_exact(n) / med / 1e9,
        "pct_peak": 100.0 * gflops / peak["gflops"],
        "pct_peak_exact": 100.0 * w.flops_exact(n) / med / 1e9 / peak["gflops"],
        "gemm_peak_gflops": peak["gflops"],
    }


def _loadavg() -> list[float] | None:
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None
