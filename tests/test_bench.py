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


def test_gemm_peak_measures_a_matmul():
    peak = bench.gemm_peak("cpu", "float32", n=256, repeats=1)
    assert peak["gflops"] > 0.1 and peak["library"] in peak["by_library"]


def test_run_in_process_records_and_ratios():
    records, meta = bench.run(["digits-b64"], ["numpy", "cupy"], repeats=2, size="smoke", isolate=False)
    by = {r["backend"]: r for r in records}
    assert {"xpnet-numpy", "sklearn"} <= set(by)
    assert "xpnet-cupy" in meta["skipped"]  # unavailable backends are reported, not fatal
    for r in records:
        assert r["epoch_s_min"] <= r["epoch_s_median"] <= r["epoch_s_max"]
        assert r["samples_per_s"] == pytest.approx(r["n_samples"] / r["epoch_s_median"])
        assert r["pct_peak"] == pytest.approx(100 * r["gflops"] / r["gemm_peak_gflops"])
        assert r["dtype"] == "float32" and r["batch_size"] == 64 and r["cores"] >= 1
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
