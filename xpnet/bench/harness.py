"""The interleaved run: GEMM peaks, then every workload's runners timed round by round, as records.

The GEMM peak is measured at one size (:data:`PEAK_N`) in every mode, once the worker processes
are up, then again before every workload and after the last; percent of peak divides the matmul
work actually done (``flops_exact``) by the *highest* of those measurements on the device, and a
figure above 100 % is not recorded as a number: it is flagged as an unreliable measurement.
"""

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

PEAK_N = 2048  # n of the n x n x n GEMM peak, in every size mode


class Session:
    """The runners of one run: each in its own worker process (``isolate``) or all in this one."""

    def __init__(self, specs: list[Spec], size: str, seed: int, isolate: bool, peak_n: int = PEAK_N):
        self.size, self.seed, self.isolate, self.peak_n = size, seed, isolate, peak_n
        self.block = 0.25 if size == "full" else 0.05  # seconds per timed sample (several short epochs)
        self.workers = {spec: Worker(spec) for spec in specs} if isolate else {}
        self._data_key: tuple | None = None
        self._data: tuple = ()

    def peak(self, device: str, dtype: str) -> dict:
        """The GEMM peak on ``device``; in its own process too, so matmul threads stay out of the runners."""
        args = (device, dtype, self.peak_n)
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

    def wait_ready(self, skipped: dict[str, str]) -> None:
        """Block until every worker process answers (imports done); one that does not is reported."""
        for spec, worker in list(self.workers.items()):
            try:
                worker.call("ping")
            except RuntimeError as exc:
                skipped[_label(spec)] = str(exc)

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
    peak_n: int = PEAK_N,
) -> tuple[list[dict], dict]:
    """Benchmark ``workloads`` x ``backends`` and the references; ``(records, meta)``.

    With ``isolate`` (default) each runner lives in its own process: NumPy's OpenBLAS threads
    and PyTorch's OpenMP threads spin after each call, and sharing one process (or a core)
    with spinning threads of another library would slow both down. A workload with its own
    ``dtypes`` runs once per dtype whatever ``dtype`` says (``seed``: float64 and float32).
    A runner whose worker fails or dies is reported in ``meta["skipped"]`` and the run goes on.
    """
    workloads = list(WORKLOADS) if workloads is None else workloads
    backends = ["numpy"] if backends is None else backends
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workload {w!r} is unknown; choose from {', '.join(WORKLOADS)}")
    specs, skipped = plan(backends, references)
    session = Session(specs, size, seed, isolate, peak_n)
    records: list[dict] = []
    wls = [WORKLOADS[w] for w in workloads]
    peaks: dict[tuple[str, str], list[dict]] = {}
    try:
        session.wait_ready(skipped)
        for wname in workloads:
            _peaks(session, specs, wls, dtype, peaks, skipped, log)  # before every workload
            for dt in WORKLOADS[wname].run_dtypes(dtype):
                records += _measure_group(session, specs, WORKLOADS[wname], dt, repeats, skipped, log)
        _peaks(session, specs, wls, dtype, peaks, skipped, log)  # and after the last
    finally:
        session.close()
    best = {key: max(ps, key=lambda p: p["gflops"]) for key, ps in peaks.items() if ps}
    load = _loadavg()
    for row in records:
        _add_peak(row, best.get((row["device"], row["dtype"])), peaks.get((row["device"], row["dtype"]), []))
        row.update(cores=os.cpu_count(), loadavg=load)
    meta = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "gemm_peak": {dev if dt == dtype else f"{dev} {dt}": p for (dev, dt), p in best.items()},
        "gemm_peak_all": {
            dev if dt == dtype else f"{dev} {dt}": [p["gflops"] for p in ps]
            for (dev, dt), ps in peaks.items()
        },
        "size": size,
        "repeats": repeats,
        "skipped": skipped,
        "loadavg_after": load,
        "flops_convention": "gflops: matmul work actually done (no input gradient of layer 0); "
        "gflops_6nw: 6 x samples x weights",
        "peak_convention": f"GEMM {peak_n}^3, measured once the workers are up, before every workload "
        "and after the last; % of peak uses the highest; above 100 % is flagged unreliable, not recorded",
    }
    return records, meta


def _peaks(
    session: Session,
    specs: list[Spec],
    workloads: list[Workload],
    dtype: str,
    peaks: dict,
    skipped: dict,
    log,
) -> None:
    """One more GEMM peak measurement per (device, dtype) the run needs, appended to ``peaks``."""
    dtypes = dict.fromkeys(dt for w in workloads for dt in w.run_dtypes(dtype))
    for dt in dtypes:
        for device in dict.fromkeys(spec.device for spec in specs):
            label = device if dt == dtype else f"{device} {dt}"
            try:
                p = session.peak(device, dt)
            except Exception as exc:  # a dying peak worker is reported; the run goes on
                skipped[f"GEMM peak {label}"] = f"{type(exc).__name__}: {exc}"
                continue
            peaks.setdefault((device, dt), []).append(p)
            if log:
                log(f"GEMM peak {label}: {p['gflops']:.1f} GFLOP/s")


def _measure_group(
    session: Session,
    specs: list[Spec],
    w: Workload,
    dtype: str,
    repeats: int,
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
    failed: dict[str, str] = {}
    times = measure(epochs, repeats, settle=0.1 if session.size == "full" else 0.02, failed=failed)
    for name, why in failed.items():  # a runner that failed or whose worker died; the others go on
        skipped[f"{name} on {group}"] = why
    rows = [_record(w, info[k], times[k], dtype) for k in times]
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


def _add_peak(row: dict, peak: dict | None, all_peaks: list[dict]) -> None:
    """``row``'s percent of the GEMM peak (exact FLOPs); None, flagged, when it would exceed 100 %."""
    row["gemm_peak_gflops"] = None if peak is None else peak["gflops"]
    row["gemm_peak_all"] = [p["gflops"] for p in all_peaks]
    row["gemm_peak_library"] = None if peak is None else peak["library"]
    row["gemm_peak_n"] = None if peak is None else peak["n"]
    pct = None if peak is None else 100.0 * row["gflops"] / peak["gflops"]
    row["pct_peak_unreliable"] = pct is not None and pct > 100.0
    row["pct_peak"] = None if row["pct_peak_unreliable"] else pct


def _record(w: Workload, info: tuple, times: list[float], dtype: str) -> dict:
    name, kind, device, device_name, n = info
    med = statistics.median(times)
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
        "gflops": w.flops_exact(n) / med / 1e9,  # the matmul work actually done
        "gflops_6nw": w.flops(n) / med / 1e9,  # the 6 x samples x weights convention
    }


def _loadavg() -> list[float] | None:
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None
