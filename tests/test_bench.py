"""xpnet.bench: workload definitions, FLOP counts, interleaving, records, table, plot and CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xpnet import bench
from xpnet.cli import main


def test_workloads_match_the_issue():
    w = bench.WORKLOADS
    assert w["mnist-like"].layers == (784, 512, 256, 10) and w["mnist-like"].batch_size == 256
    assert w["wide"].layers == (784, 1024, 1024, 10) and w["wide"].batch_size == 4096
    assert w["digits-full"].batch_size is None and w["digits-b64"].batch_size == 64
    assert w["mnist-like"].n_samples("full") == 60000 == w["wide"].n_samples("full")
    # 6 x samples x weights; the exact count drops the first layer's input gradient
    assert w["mnist-like"].n_weights == 784 * 512 + 512 * 256 + 256 * 10
    assert w["wide"].flops(10) == 6 * 10 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
    assert w["wide"].flops(10) - w["wide"].flops_exact(10) == 2 * 10 * 784 * 1024
    assert w["digits-full"].effective_batch(1797) == 1797 and w["wide"].effective_batch(256) == 256


@pytest.mark.parametrize("name", list(bench.WORKLOADS))
def test_make_data_is_generated_deterministic_float32(name):
    w = bench.WORKLOADS[name]
    X, y = bench.make_data(w, "smoke")
    X2, y2 = bench.make_data(w, "smoke")
    assert X.dtype == np.float32 and X.shape == (w.n_samples("smoke"), w.layers[0])
    assert y.shape == (X.shape[0],) and 0 <= y.min() and y.max() < w.layers[-1]
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert len(np.unique(y)) > 1


def test_make_data_rejects_unknown_size():
    with pytest.raises(ValueError, match="size"):
        bench.make_data(bench.WORKLOADS["wide"], "huge")


def test_measure_interleaves_and_rotates():
    calls = []

    def fn(name):
        def epoch():
            calls.append(name)
            return 0.5

        return epoch

    times = bench.measure({"a": fn("a"), "b": fn("b"), "c": fn("c")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "c"] + ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert times == {"a": [0.5] * 3, "b": [0.5] * 3, "c": [0.5] * 3}


@pytest.mark.parametrize("kind", ["xpnet", "torch", "sklearn"])
def test_runners_train(kind):
    """Each runner's epoch lowers the loss on a separable problem (so it really trains)."""
    if kind == "torch":
        pytest.importorskip("torch")
    w = bench.WORKLOADS["digits-b64"]
    X, y = bench.make_data(w, "quick")
    r = bench.make_runner(bench.Spec(kind, "numpy"), w, X, y)
    first = r.epoch()
    for _ in range(3):
        last = r.epoch()
    assert math.isfinite(first) and last < first
    assert r.device == "cpu" and r.device_name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_article_runner_trains_on_digits(dtype):
    """The article's loop really trains: its loss falls every epoch over 20 full-batch epochs on digits."""
    w = bench.WORKLOADS["seed"]
    X, y = bench.make_data(w, "full", dtype)
    assert X.dtype == dtype and X.min() == 0.0 and X.max() == 1.0  # the article's X / 16
    r = bench.make_runner(bench.Spec("article"), w, X, y, dtype)
    losses = [r.epoch() for _ in range(20)]
    assert all(math.isfinite(v) for v in losses)
    assert all(b < a for a, b in zip(losses[:-1], losses[1:], strict=True)), losses
    assert losses[-1] < 0.5 * losses[0]
    assert r.threads == 1 and r.device == "cpu"


def test_seed_workload_runners_do_the_same_work():
    """On ``seed`` the xpnet and article runners build the same layers, dtype, optimizer, lr and batch."""
    w = bench.WORKLOADS["seed"]
    assert w.layers == (64, 64, 64, 10) and w.activation == "sigmoid" and w.batch_size is None
    assert w.lr == 0.1 and w.run_dtypes("float32") == ("float64", "float32") and w.threads == 1
    specs, _ = bench.plan(["numpy"], ("article",))
    assert [s.kind for s in specs] == ["xpnet", "article"]
    assert all(bench.runs_on(s, w) for s in specs)
    assert not bench.runs_on(bench.Spec("article"), bench.WORKLOADS["digits-full"])
    for dtype in w.run_dtypes("float32"):
        X, y = bench.make_data(w, "smoke", dtype)
        ours, article = (bench.make_runner(s, w, X, y, dtype) for s in specs)
        expected = {
            "layers": (64, 64, 64, 10),
            "activation": "sigmoid",
            "dtype": dtype,
            "optimizer": "sgd",
            "lr": 0.1,
            "batch_size": X.shape[0],
            "shuffle": False,
            "grad_norm": False,
        }
        assert ours.settings == article.settings == expected
        assert ours.threads == article.threads == 1


def test_thread_limit_caps_blas_threads():
    from threadpoolctl import threadpool_info

    def counts():
        return [pool["num_threads"] for pool in threadpool_info()]

    before = counts()
    with bench.thread_limit(1):
        inside = counts()
    with bench.thread_limit(None):
        unlimited = counts()
    assert inside and set(inside) == {1}
    assert counts() == unlimited == before


def test_run_seed_in_process_both_dtypes_and_article_ratio():
    records, meta = bench.run(
        ["seed"], ["numpy"], ("article",), repeats=1, size="smoke", isolate=False, peak_n=256
    )
    assert [(r["backend"], r["dtype"]) for r in records] == [
        ("xpnet-numpy", "float64"),
        ("article", "float64"),
        ("xpnet-numpy", "float32"),
        ("article", "float32"),
    ]
    by = {(r["backend"], r["dtype"]): r for r in records}
    for dtype in ("float64", "float32"):
        ours, ref = by["xpnet-numpy", dtype], by["article", dtype]
        assert ref["ratio_to_article"] == 1.0 and ours["threads"] == 1
        assert ours["ratio_to_article"] == pytest.approx(ours["samples_per_s"] / ref["samples_per_s"])
        assert (
            ours["gemm_peak_gflops"]
            == meta["gemm_peak"]["cpu" if dtype == "float32" else "cpu float64"]["gflops"]
        )
    table = bench.format_table(records, meta)
    assert "vs article" in table and "float64" in table and "GEMM peak cpu float64" in table


def test_gemm_peak_measures_a_matmul():
    peak = bench.gemm_peak("cpu", "float32", n=256, repeats=1)
    assert peak["gflops"] > 0.1 and peak["library"] in peak["by_library"]


def test_gemm_peak_counts_2n3_flops_per_matmul(monkeypatch):
    """The figure is 2 n^3 / best seconds per library, and the best library's is reported."""
    from xpnet.bench import peak as peak_mod

    times = iter([0.5, 0.25])  # numpy, then torch (when installed)
    monkeypatch.setattr(peak_mod, "best_time", lambda fn, repeats: next(times))
    p = peak_mod.gemm_peak("cpu", "float32", n=64, repeats=1)
    assert p["by_library"]["numpy"] == pytest.approx(2 * 64**3 / 0.5 / 1e9)
    assert p["gflops"] == max(p["by_library"].values()) and p["n"] == 64


def test_run_in_process_records_and_ratios():
    records, meta = bench.run(
        ["digits-b64"], ["numpy", "cupy"], repeats=2, size="smoke", isolate=False, peak_n=256
    )
    by = {r["backend"]: r for r in records}
    assert {"xpnet-numpy", "sklearn"} <= set(by)
    assert "xpnet-cupy" in meta["skipped"]  # unavailable backends are reported, not fatal
    for r in records:
        assert r["epoch_s_min"] <= r["epoch_s_median"] <= r["epoch_s_max"]
        assert r["samples_per_s"] == pytest.approx(r["n_samples"] / r["epoch_s_median"])
        pct = 100 * r["gflops"] / r["gemm_peak_gflops"]
        # a peak measured low on a busy machine gives > 100 %: flagged and withheld, never printed
        assert r["pct_peak_unreliable"] == (pct > 100.0)
        assert r["pct_peak"] == (None if pct > 100.0 else pytest.approx(pct))
        assert r["dtype"] == "float32" and r["batch_size"] == 64 and r["cores"] >= 1
        # the primary GFLOP/s is the matmul work actually done, not 6 x samples x weights
        w = bench.WORKLOADS["digits-b64"]
        assert r["gflops"] == pytest.approx(w.flops_exact(r["n_samples"]) / r["epoch_s_median"] / 1e9)
        assert r["gflops_6nw"] == pytest.approx(w.flops(r["n_samples"]) / r["epoch_s_median"] / 1e9)
    if "torch" in by:
        assert by["torch"]["ratio_to_torch"] == 1.0
        expected = by["xpnet-numpy"]["samples_per_s"] / by["torch"]["samples_per_s"]
        assert by["xpnet-numpy"]["ratio_to_torch"] == pytest.approx(expected)
    table = bench.format_table(records, meta)
    assert "digits-b64" in table and "GEMM peak cpu" in table and "skipped xpnet-cupy" in table


def test_cli_bench_quick_json_and_plot(tmp_path, capsys):
    """The real command: worker processes, GEMM peak, JSON records and a PNG."""
    out, png = tmp_path / "b.json", tmp_path / "b.png"
    args = ["bench", "--quick", "--workloads", "digits-full", "--repeats", "1", "--references", "sklearn"]
    assert main([*args, "--json", str(out), "--plot", str(png)]) == 0
    records = json.loads(out.read_text())
    assert [r["backend"] for r in records] == ["xpnet-numpy", "sklearn"]
    keys = {"workload", "backend", "device_name", "dtype", "batch_size", "epoch_s_median", "epoch_s_min"}
    keys |= {"epoch_s_max", "samples_per_s", "gflops", "pct_peak", "ratio_to_torch"}
    assert keys <= set(records[0])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "xpnet-numpy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workloads", "mnist"], "--workloads"),
        (["--backends", "jax"], "--backends"),
        (["--references", "keras"], "--references"),
        (["--repeats", "0"], "--repeats"),
    ],
)
def test_cli_bench_bad_input(args, message, capsys):
    assert main(["bench", *args]) == 2
    assert message in capsys.readouterr().err


def test_add_ratio_divides_by_the_reference_on_the_same_device():
    from xpnet.bench.harness import _add_ratio

    rows = [
        {"backend": "xpnet-numpy", "device": "cpu", "samples_per_s": 300.0},
        {"backend": "torch", "device": "cpu", "samples_per_s": 200.0},
        {"backend": "xpnet-torch", "device": "cuda:0", "samples_per_s": 50.0},
    ]
    _add_ratio(rows, "torch", "ratio_to_torch")
    assert [r["ratio_to_torch"] for r in rows] == [1.5, 1.0, None]


@pytest.mark.parametrize("workload, shuffles", [("digits-full", False), ("digits-b64", True)])
def test_reference_runners_do_the_same_work_as_xpnet(workload, shuffles, monkeypatch):
    """Same layers, dtype, optimizer, lr, batch, shuffle (none at full batch) and grad-norm setting."""
    kinds = ["xpnet", "sklearn"]
    try:
        import torch

        kinds.append("torch")
    except ImportError:
        torch = None
    w = bench.WORKLOADS[workload]
    X, y = bench.make_data(w, "smoke")
    runners = {k: bench.make_runner(bench.Spec(k, "numpy"), w, X, y) for k in kinds}
    ours = runners["xpnet"].settings
    assert ours["shuffle"] is shuffles and ours["grad_norm"] is False
    for kind, r in runners.items():
        assert r.settings == ours, kind
    if torch is not None and not shuffles:  # the torch loop really draws no permutation at full batch

        def no_perm(*a, **k):
            raise AssertionError("randperm at full batch")

        monkeypatch.setattr(torch, "randperm", no_perm)
        assert math.isfinite(runners["torch"].epoch())


def test_percent_above_100_is_flagged_never_recorded_or_printed(monkeypatch):
    """A GEMM peak below the epoch's rate gives no number over 100: the row is flagged unreliable."""
    from xpnet.bench import harness

    tiny = {"device": "cpu", "dtype": "float32", "n": 256, "gflops": 1e-6, "library": "numpy"}
    monkeypatch.setattr(harness.Session, "peak", lambda self, device, dtype: dict(tiny, dtype=dtype))
    records, meta = bench.run(["digits-b64"], ["numpy"], ("sklearn",), repeats=1, size="smoke", isolate=False)
    assert records and all(r["pct_peak"] is None and r["pct_peak_unreliable"] for r in records)
    table = bench.format_table(records, meta)
    assert ">100%?" in table and "unreliable measurement" in table
    for line in table.splitlines():
        assert not any(
            tok.endswith("%") and tok[:-1].replace(".", "").isdigit() and float(tok[:-1]) > 100
            for tok in line.split()
        ), line


def test_peak_same_size_every_mode_before_each_workload_and_after(monkeypatch):
    """One GEMM size in every mode; measured before each workload and after the last; the highest is used."""
    from xpnet.bench import harness

    calls = []  # fake peaks far above any real epoch rate, so no % of peak passes 100
    rates = iter([1e5, 3e5, 2e5] * 4)

    def fake_peak(self, device, dtype):
        calls.append((self.size, self.peak_n))
        return {"device": device, "dtype": dtype, "n": self.peak_n, "gflops": next(rates), "library": "numpy"}

    monkeypatch.setattr(harness.Session, "peak", fake_peak)
    for size in ("smoke", "quick"):
        calls.clear()
        rates = iter([1e5, 3e5, 2e5])
        records, meta = bench.run(
            ["digits-b64", "digits-full"], ["numpy"], (), repeats=1, size=size, isolate=False
        )
        assert calls == [(size, harness.PEAK_N)] * 3  # before each of 2 workloads, after the last
        assert meta["gemm_peak_all"]["cpu"] == [1e5, 3e5, 2e5]
        assert all(r["gemm_peak_gflops"] == 3e5 for r in records)
        assert all(r["pct_peak"] == pytest.approx(100 * r["gflops"] / 3e5) for r in records)


def test_a_failing_runner_is_reported_and_the_run_goes_on(monkeypatch):
    """A runner raising ConnectionResetError mid-run (a dead worker, in process) is skipped by name."""
    from xpnet.bench import harness

    real = harness.make_runner

    def make(spec, *args, **kw):
        r = real(spec, *args, **kw)
        if spec.kind == "sklearn":
            calls = iter(range(100))

            def epoch():
                if next(calls) >= 1:  # warm-up passes, the first timed epoch dies
                    raise ConnectionResetError("worker gone")
                return 0.0

            r.epoch = epoch
        return r

    monkeypatch.setattr(harness, "make_runner", make)
    records, meta = bench.run(
        ["digits-b64"], ["numpy"], ("sklearn",), repeats=2, size="smoke", isolate=False, peak_n=256
    )
    assert [r["backend"] for r in records] == ["xpnet-numpy"]
    assert "ConnectionResetError" in meta["skipped"]["sklearn@cpu on digits-b64"]


def test_a_worker_process_that_dies_is_reported_and_the_run_goes_on(monkeypatch):
    """The real thing: the sklearn worker process is killed after set-up; xpnet's row still comes."""
    from xpnet.bench import harness

    real_setup = harness.Session.setup

    def setup(self, spec, w, dtype):
        out = real_setup(self, spec, w, dtype)
        if spec.kind == "sklearn":
            proc = self.workers[spec].proc
            proc.kill()
            proc.join()
        return out

    monkeypatch.setattr(harness.Session, "setup", setup)
    records, meta = bench.run(["digits-b64"], ["numpy"], ("sklearn",), repeats=1, size="smoke", peak_n=256)
    assert [r["backend"] for r in records] == ["xpnet-numpy"]
    why = meta["skipped"]["sklearn@cpu on digits-b64"]
    assert "worker process died" in why


def test_worker_call_on_a_dead_process_raises_runtime_error():
    from xpnet.bench.workers import Worker

    worker = Worker(bench.Spec("peak"))
    assert worker.call("ping") is None
    worker.proc.kill()
    worker.proc.join()
    with pytest.raises(RuntimeError, match="worker process died"):
        worker.call("ping")
    worker.close()
