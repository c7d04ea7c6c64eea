"""Benchmarks: workloads, reference loops (PyTorch, scikit-learn), an interleaved runner, GEMM peak.

Shared by the pytest-benchmark suite (``bench/``) and ``xpnet bench``. Every workload trains one
epoch of plain SGD (same learning rate, same batch size, same dtype, shuffled) on generated data.
FLOPs per epoch are counted as ``6 x samples x weights`` (forward, grad-weights and grad-input
matmuls of every layer; the first layer's grad-input, which nobody computes, is counted too), and
``flops_exact`` drops that term so percent-of-peak can be read both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SIZES = ("full", "quick", "smoke")
LR = 0.01
REFERENCES = ("torch", "sklearn")


@dataclass(frozen=True)
class Workload:
    """One benchmark setting: network shape, activation, batch size and data size per mode."""

    name: str
    layers: tuple[int, ...]
    activation: str
    batch_size: int | None  # None: full batch
    samples: dict  # size mode -> number of samples
    description: str

    def n_samples(self, size: str = "full") -> int:
        return self.samples[size]

    @property
    def n_weights(self) -> int:
        return sum(a * b for a, b in zip(self.layers[:-1], self.layers[1:], strict=True))

    def flops(self, n: int) -> float:
        """FLOPs of one epoch over ``n`` samples: 6 x samples x weights (the stated convention)."""
        return 6.0 * n * self.n_weights

    def flops_exact(self, n: int) -> float:
        """The matmul FLOPs actually needed: the first layer's input gradient is never computed."""
        return self.flops(n) - 2.0 * n * self.layers[0] * self.layers[1]

    def effective_batch(self, n: int) -> int:
        return n if self.batch_size is None else min(self.batch_size, n)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "digits-full",
            (64, 64, 10),
            "sigmoid",
            None,
            {"full": 1797, "quick": 1797, "smoke": 256},
            "sklearn digits (1797 x 64, standardized), [64, 64, 10], sigmoid, full batch",
        ),
        Workload(
            "digits-b64",
            (64, 64, 10),
            "sigmoid",
            64,
            {"full": 1797, "quick": 1797, "smoke": 256},
            "sklearn digits, [64, 64, 10], sigmoid, batch 64",
        ),
        Workload(
            "mnist-like",
            (784, 512, 256, 10),
            "relu",
            256,
            {"full": 60000, "quick": 6144, "smoke": 256},
            "synthetic 60000 x 784, [784, 512, 256, 10], ReLU, batch 256",
        ),
        Workload(
            "wide",
            (784, 1024, 1024, 10),
            "relu",
            4096,
            {"full": 60000, "quick": 8192, "smoke": 256},
            "synthetic 60000 x 784, [784, 1024, 1024, 10], ReLU, batch 4096",
        ),
    )
}


def make_data(workload: Workload, size: str = "full", dtype: str = "float32", seed: int = 0):
    """``(X, y)`` on the host: digits (standardized) or 10 Gaussian classes in 784 dimensions."""
    if size not in SIZES:
        raise ValueError(f"size={size!r} is unknown; choose one of {', '.join(SIZES)}")
    n = workload.n_samples(size)
    if workload.name.startswith("digits"):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
        return np.ascontiguousarray(X[:n], dtype=dtype), y[:n].astype(np.int64)
    rng = np.random.default_rng(seed)
    d = workload.layers[0]
    k = workload.layers[-1]
    y = rng.integers(0, k, n)
    centers = rng.standard_normal((k, d), dtype=np.float32)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += centers[y]
    return X.astype(dtype, copy=False), y.astype(np.int64)


# --- runners: each returns a zero-argument callable that trains one epoch and syncs ---------


@dataclass
class Runner:
    """A named epoch function plus what the record says about where it ran."""

    name: str  # e.g. "xpnet-numpy", "torch", "sklearn"
    kind: str  # "xpnet" or "reference"
    device: str  # "cpu", "cuda:0"
    device_name: str
    epoch: Callable[[], Any]


def xpnet_runner(workload: Workload, X, y, backend: str = "numpy", dtype: str = "float32", seed: int = 0):
    """xpnet's Trainer epoch (plain SGD, shuffled, no grad-norm tracking) on ``backend``."""
    from .backend import get_backend
    from .optim import SGD
    from .training import Trainer

    be = get_backend(backend, "cuda" if backend == "torch" and _torch_cuda() else None)
    net = _xpnet_net(workload, be, dtype, seed)
    trainer = Trainer(
        net,
        loss="categorical_crossentropy",
        optimizer=SGD(lr=LR),
        batch_size=workload.batch_size,
        shuffle=True,
        seed=seed,
        track_grad_norm=False,
    )
    Xd = net.as_input(X)
    Yd = net.as_targets(y, Xd.shape[0], "categorical_crossentropy")

    def epoch():
        loss, _ = trainer.train_epoch(Xd, Yd)
        return be.item(loss)  # the one sync per epoch, as fit() does

    label = _cpu_name() if str(be.device) == "cpu" else be.device_name
    return Runner(f"xpnet-{be.name}", "xpnet", str(be.device), label, epoch)


def _xpnet_net(workload, be, dtype, seed):
    from .network import MLP

    init = "he_normal" if workload.activation == "relu" else "glorot_uniform"
    return MLP(
        list(workload.layers), activation=workload.activation, init=init, backend=be, dtype=dtype, seed=seed
    )


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def torch_runner(
    workload: Workload,
    X,
    y,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    compile: bool = False,
):
    """The loop a PyTorch user writes: nn.Linear stack, CrossEntropyLoss, SGD, randperm batches."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    dev = torch.device(device)
    tdtype = getattr(torch, dtype)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[workload.activation]
    mods: list[nn.Module] = []
    sizes = workload.layers
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(act())
    model = nn.Sequential(*mods).to(device=dev, dtype=tdtype)
    forward = torch.compile(model) if compile else model
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    Xt = torch.as_tensor(X, dtype=tdtype, device=dev)
    yt = torch.as_tensor(y, device=dev)
    n = Xt.shape[0]
    bs = workload.effective_batch(n)

    def epoch():
        perm = torch.randperm(n, device=dev)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            opt.zero_grad()
            loss = loss_fn(forward(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return loss.item()

    name = "torch-compile" if compile else "torch"
    label = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    return Runner(name, "reference", str(dev), label, epoch)


def sklearn_runner(workload: Workload, X, y, dtype: str = "float32", seed: int = 0):
    """scikit-learn's MLPClassifier, one epoch per partial_fit (plain SGD, no L2, no momentum)."""
    from sklearn.neural_network import MLPClassifier

    n = X.shape[0]
    clf = MLPClassifier(
        hidden_layer_sizes=workload.layers[1:-1],
        activation={"relu": "relu", "sigmoid": "logistic"}[workload.activation],
        solver="sgd",
        alpha=0.0,
        batch_size=workload.effective_batch(n),
        learning_rate_init=LR,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        early_stopping=False,
        random_state=seed,
    )
    Xs = np.ascontiguousarray(X, dtype=dtype)
    classes = np.arange(workload.layers[-1])

    def epoch():
        clf.partial_fit(Xs, y, classes=classes)
        return clf.loss_

    return Runner("sklearn", "reference", "cpu", _cpu_name(), epoch)


def _cpu_name() -> str:
    from .backend import Backend

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


# --- GEMM peak -------------------------------------------------------------------------------


def gemm_peak(device: str = "cpu", dtype: str = "float32", n: int = 4096, repeats: int = 3) -> dict:
    """Measured matmul GFLOP/s of ``n x n`` by ``n x n`` on ``device`` (best of the libraries there)."""
    flops = 2.0 * n**3
    best: dict[str, float] = {}
    if device == "cpu":
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        b = np.random.default_rng(1).standard_normal((n, n)).astype(dtype)
        c = np.empty_like(a)
        best["numpy"] = flops / _best_time(lambda: np.matmul(a, b, out=c), repeats) / 1e9
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

        best["torch"] = flops / _best_time(mm, repeats) / 1e9
    if device != "cpu":
        try:
            import cupy as cp

            ca = cp.random.standard_normal((n, n), dtype=dtype)
            cb = cp.random.standard_normal((n, n), dtype=dtype)

            def cmm():
                ca @ cb
                cp.cuda.Device().synchronize()

            best["cupy"] = flops / _best_time(cmm, repeats) / 1e9
        except Exception:  # cupy missing or no device: torch's figure stands
            pass
    if not best:
        raise RuntimeError(f"no library could run a matmul on device {device!r}")
    lib = max(best, key=best.get)
    return {"device": device, "dtype": dtype, "n": n, "gflops": best[lib], "library": lib, "by_library": best}


def _best_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# --- the interleaved runner ------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What to run: an xpnet backend or a reference (``torch`` / ``torch-compile`` / ``sklearn``)."""

    kind: str  # "xpnet", "torch", "torch-compile", "sklearn"
    backend: str = ""  # xpnet backend name
    device: str = "cpu"


def make_runner(spec: Spec, workload: Workload, X, y, dtype: str = "float32", seed: int = 0) -> Runner:
    """Build the runner a :class:`Spec` describes, for ``workload`` on data ``(X, y)``."""
    if spec.kind == "xpnet":
        return xpnet_runner(workload, X, y, spec.backend, dtype, seed)
    if spec.kind in ("torch", "torch-compile"):
        return torch_runner(workload, X, y, spec.device, dtype, seed, compile=spec.kind == "torch-compile")
    if spec.kind == "sklearn":
        return sklearn_runner(workload, X, y, dtype, seed)
    raise ValueError(f"runner kind {spec.kind!r} is unknown")


def plan(backends: list[str], references: tuple[str, ...] = REFERENCES) -> tuple[list[Spec], dict[str, str]]:
    """Specs for the available ``backends`` and the references; unavailable ones map to reasons."""
    from .backend import get_backend

    specs: list[Spec] = []
    skipped: dict[str, str] = {}
    devices = {"cpu"}
    for name in backends:
        try:
            be = get_backend(name, "cuda" if name == "torch" and _torch_cuda() else None)
        except (ImportError, ValueError) as exc:
            skipped[f"xpnet-{name}"] = str(exc).splitlines()[0]
            continue
        specs.append(Spec("xpnet", name, str(be.device)))
        devices.add(str(be.device))
    if "torch" in references:
        try:
            import torch  # noqa: F401
        except ImportError:
            skipped["torch"] = "PyTorch is not installed (pip install torch)"
        else:
            for dev in sorted(devices):
                specs.append(Spec("torch", device=dev))
                if dev.startswith("cuda"):
                    specs.append(Spec("torch-compile", device=dev))
    if "sklearn" in references:
        specs.append(Spec("sklearn"))
    return specs, skipped


def _worker(conn) -> None:
    """A runner's own process: setup/epoch/peak commands over a pipe, so thread pools never mix."""
    runner = None
    while True:
        cmd, *args = conn.recv()
        try:
            if cmd == "stop":
                return
            if cmd == "setup":
                spec, wname, size, dtype, seed = args
                runner = None
                X, y = make_data(WORKLOADS[wname], size, dtype, seed)
                runner = make_runner(spec, WORKLOADS[wname], X, y, dtype, seed)
                conn.send(("ok", (runner.name, runner.kind, runner.device, runner.device_name, X.shape[0])))
            elif cmd == "epoch":
                conn.send(("ok", _timed(runner.epoch, *args)()))
            elif cmd == "peak":
                conn.send(("ok", gemm_peak(*args)))
        except Exception as exc:  # reported to the parent, which skips this runner
            conn.send(("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))


class Worker:
    """Parent-side handle of a :func:`_worker` process (spawned, so no state leaks in)."""

    def __init__(self, spec: Spec):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.spec = spec
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def call(self, *cmd):
        self.conn.send(cmd)
        status, value = self.conn.recv()
        if status == "error":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        try:
            self.conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()


def measure(
    epochs: dict[str, Callable[[], float]], repeats: int = 3, warmup: int = 1, settle: float = 0.0
) -> dict[str, list[float]]:
    """Epoch seconds per named epoch function; rounds rotate (A B C, B C A, ...) so drift cancels.

    ``settle`` seconds of sleep before each timed call let the previous runner's idle
    BLAS/OpenMP threads stop spinning, so they do not steal the next runner's cores.
    """
    names = list(epochs)
    for name in names:
        for _ in range(warmup):
            epochs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            if settle:
                time.sleep(settle)
            times[name].append(epochs[name]())
    return times


def _timed(fn: Callable[[], Any], min_seconds: float = 0.0) -> Callable[[], float]:
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
    with spinning threads of another library would slow both down.
    """
    workloads = list(WORKLOADS) if workloads is None else workloads
    backends = ["numpy"] if backends is None else backends
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workload {w!r} is unknown; choose from {', '.join(WORKLOADS)}")
    block = 0.25 if size == "full" else 0.05  # seconds per timed sample (several short epochs)
    settle = 0.1 if size == "full" else 0.02
    specs, skipped = plan(backends, references)
    workers = {spec: Worker(spec) for spec in specs} if isolate else {}
    peaks: dict[str, dict] = {}
    records: list[dict] = []
    try:
        for spec in specs:
            if spec.device not in peaks:
                args = (spec.device, dtype, 4096 if size == "full" else 2048)
                if isolate:  # its own process too, so the matmul libraries' threads stay out of the runners
                    peak_worker = Worker(Spec("peak", device=spec.device))
                    try:
                        peaks[spec.device] = peak_worker.call("peak", *args)
                    finally:
                        peak_worker.close()
                else:
                    peaks[spec.device] = gemm_peak(*args)
                if log:
                    log(f"GEMM peak {spec.device}: {peaks[spec.device]['gflops']:.1f} GFLOP/s")
        for wname in workloads:
            w = WORKLOADS[wname]
            epochs: dict[str, Callable[[], float]] = {}
            info: dict[str, tuple] = {}
            X = y = None
            for spec in specs:
                try:
                    if isolate:
                        info_s = workers[spec].call("setup", spec, wname, size, dtype, seed)
                        epochs[_label(spec)] = lambda s=spec: workers[s].call("epoch", block)
                    else:
                        if X is None:
                            X, y = make_data(w, size, dtype, seed)
                        r = make_runner(spec, w, X, y, dtype, seed)
                        info_s = (r.name, r.kind, r.device, r.device_name, X.shape[0])
                        epochs[_label(spec)] = _timed(r.epoch, block)
                except Exception as exc:
                    skipped[f"{_label(spec)} on {wname}"] = str(exc)
                    continue
                info[_label(spec)] = info_s
            if log:
                log(f"{wname}: {', '.join(epochs)} x {repeats} interleaved epochs")
            try:
                times = measure(epochs, repeats, settle=settle)
            except RuntimeError as exc:
                skipped[wname] = str(exc)
                continue
            rows = [_record(w, info[k], times[k], dtype, peaks[info[k][2]]) for k in epochs]
            torch_ref = {row["device"]: row["samples_per_s"] for row in rows if row["backend"] == "torch"}
            for row in rows:
                ref = torch_ref.get(row["device"])
                row["ratio_to_torch"] = None if ref is None else row["samples_per_s"] / ref
            records += rows
    finally:
        for worker in workers.values():
            worker.close()
    load = _loadavg()
    for row in records:
        peak = peaks[row["device"]]
        row.update(
            cores=os.cpu_count(), gemm_peak_library=peak["library"], gemm_peak_n=peak["n"], loadavg=load
        )
    meta = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "gemm_peak": peaks,
        "size": size,
        "repeats": repeats,
        "skipped": skipped,
        "loadavg_after": load,
        "flops_convention": "6 x samples x weights (gflops); gflops_exact omits layer 0's input gradient",
    }
    return records, meta


def _label(spec: Spec) -> str:
    name = f"xpnet-{spec.backend}" if spec.kind == "xpnet" else spec.kind
    return f"{name}@{spec.device}"


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


# --- output ----------------------------------------------------------------------------------


def format_table(records: list[dict], meta: dict | None = None) -> str:
    """A fixed-width table of the records (one row per workload and backend)."""
    head = (
        f"{'workload':<12} {'backend':<14} {'device':<7} {'batch':>6} {'epoch s (min-max)':>24} "
        f"{'samples/s':>11} {'GFLOP/s':>8} {'% peak':>7} {'vs torch':>9}"
    )
    lines = []
    if meta:
        for dev, p in meta["gemm_peak"].items():
            lines.append(
                f"GEMM peak {dev}: {p['gflops']:.1f} GFLOP/s ({p['library']}, {p['n']}^3 {p['dtype']})"
            )
        lines.append(f"machine: {meta['cpu']}")
    lines += [head, "-" * len(head)]
    for r in records:
        spread = f"{r['epoch_s_median']:.4f} ({r['epoch_s_min']:.4f}-{r['epoch_s_max']:.4f})"
        ratio = "-" if r["ratio_to_torch"] is None else f"{r['ratio_to_torch']:.2f}x"
        lines.append(
            f"{r['workload']:<12} {r['backend']:<14} {r['device']:<7} {r['batch_size']:>6} {spread:>24} "
            f"{r['samples_per_s']:>11,.0f} {r['gflops']:>8.1f} {r['pct_peak']:>6.1f}% {ratio:>9}"
        )
    if meta and meta.get("skipped"):
        for name, why in meta["skipped"].items():
            lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


def plot(records: list[dict], path: str) -> None:
    """Grouped bars of samples/s (log scale) per workload and backend, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(r["workload"] for r in records))
    series = list(dict.fromkeys(f"{r['backend']}@{r['device']}" for r in records))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6, 2 * len(workloads)), 4))
    for j, s in enumerate(series):
        xs, ys = [], []
        for i, w in enumerate(workloads):
            for r in records:
                if r["workload"] == w and f"{r['backend']}@{r['device']}" == s:
                    xs.append(i + j * width)
                    ys.append(r["samples_per_s"])
        ax.bar(xs, ys, width, label=s)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(workloads))], workloads)
    ax.set_yscale("log")
    ax.set_ylabel("training samples / s (one epoch, SGD)")
    ax.legend(fontsize=8)
    ax.set_title("xpnet epoch throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- command line ----------------------------------------------------------------------------

BENCH_EXAMPLES = """examples:
  xpnet bench --quick                                   # all workloads, numpy vs torch and sklearn
  xpnet bench --backends numpy,cupy,torch --workloads mnist-like,wide --repeats 5
  xpnet bench --json bench/results/cpu.json --plot bench.png
"""


def _csv(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_bench_parser(sub) -> argparse.ArgumentParser:
    """Register ``xpnet bench`` on the CLI's subparsers."""
    p = sub.add_parser(
        "bench",
        help="epoch throughput per backend against PyTorch and scikit-learn",
        description="Train one epoch at a time on generated data, interleaving xpnet backends with a "
        "plain PyTorch loop and scikit-learn's MLPClassifier, and report throughput, GFLOP/s "
        "(6 x samples x weights per epoch) and percent of the measured GEMM peak.",
        epilog=BENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backends", type=_csv, default=["numpy"], help="comma-separated: numpy,cupy,torch")
    p.add_argument(
        "--workloads", type=_csv, default=list(WORKLOADS), help=f"comma-separated: {','.join(WORKLOADS)}"
    )
    p.add_argument("--references", type=_csv, default=list(REFERENCES), help="torch,sklearn (default both)")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed epochs per runner (default 5; 3 with --quick)"
    )
    p.add_argument("--quick", action="store_true", help="small data sizes (under a minute on 2 cores)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--json", metavar="PATH", help="write the records (a JSON list) here")
    p.add_argument("--plot", metavar="PNG", help="save a throughput bar chart here")
    p.set_defaults(func=cmd_bench)
    return p


def cmd_bench(args: argparse.Namespace) -> int:
    from .backend import BACKENDS

    for b in args.backends:
        if b not in BACKENDS:
            raise ValueError(f"--backends: {b!r} is unknown; choose from numpy, cupy, torch")
    for w in args.workloads:
        if w not in WORKLOADS:
            raise ValueError(f"--workloads: {w!r} is unknown; choose from {', '.join(WORKLOADS)}")
    for r in args.references:
        if r not in REFERENCES:
            raise ValueError(f"--references: {r!r} is unknown; choose from {', '.join(REFERENCES)}")
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1; got {args.repeats}")
    records, meta = run(
        args.workloads,
        args.backends,
        tuple(args.references),
        args.repeats,
        "quick" if args.quick else "full",
        args.dtype,
        log=lambda s: print(s, flush=True),
    )
    print(format_table(records, meta))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
        print(f"records written to {args.json}")
    if args.plot:
        plot(records, args.plot)
        print(f"plot saved to {args.plot}")
    return 0


def workload_dict(w: Workload) -> dict:
    """A JSON-friendly description of a workload (for bench records and docs)."""
    d = asdict(w)
    d["n_weights"] = w.n_weights
    d["flops_per_epoch"] = w.flops(w.n_samples("full"))
    return d
