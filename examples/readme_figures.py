"""Regenerate the README's figures that come from short runs, with the date and the machine.

    python examples/readme_figures.py                  # every short-run figure (minutes on 2 cores)
    python examples/readme_figures.py --only train,threads
    python examples/readme_figures.py --only bench-table --record bench/results/cpu-2026-11-24-run4.json

Sections (``--only`` picks some; ``all`` is every one but ``bench-quick`` and ``tune-threads``,
which take minutes):

- ``train``: ``xpnet train`` with no options, its last lines (README "Command line").
- ``seeds``: the default run's test accuracy over ``--seed 0..4``.
- ``cosine``: ``xpnet train --optimizer adam --batch-norm --schedule cosine`` (README
  "Optimizers, schedules ..."), and the same with the constant-rate default (``--lr 1e-3
  --warmup-epochs 0``), each over split seeds 0-4.
- ``threads``: 30 epochs of the default run with ``--threads 1`` against ``--threads 0`` (the
  library's default), alternated, twice each (README "Threads and log lines").
- ``tune``: ``xpnet tune --trials 50 --retrain`` (README "Tuning").
- ``tune-threads``: the same 50 trials with ``--threads 0`` (minutes on a busy machine).
- ``bench-quick``: how long ``xpnet bench --quick`` takes here.
- ``bench-table``: the README's benchmark table, as Markdown, from a recorded
  ``xpnet bench --json`` file (the records themselves come from ``xpnet bench``).

Other figures have their own scripts, named beside them in the README:
``examples/sklearn_dropin.py``, ``bench/seed_in_process.py``, ``bench/rng_cost.py``,
``examples/ensemble_figures.py``, ``examples/tune_batch_figures.py``, and the parity table
printed at the end of ``pytest parity``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

XPNET = [sys.executable, "-c", "import sys; from xpnet.cli import main; sys.exit(main())"]
SECTIONS = ("train", "seeds", "cosine", "threads", "tune", "tune-threads", "bench-quick", "bench-table")
SLOW = ("tune-threads", "bench-quick")
DEFAULT_RECORD = Path(__file__).resolve().parents[1] / "bench" / "results" / "cpu-2026-11-24-run4.json"


def machine() -> str:
    """CPU model, cores, BLAS and the load average: the context a timing needs."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; load average {load}"


def xpnet(*args: str, json_out: bool = False):
    """Run ``xpnet ARGS`` (this interpreter); its JSON report, or its output lines."""
    command = [*XPNET, *args, *(["--json"] if json_out else [])]
    if json_out:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    else:  # the lines in the order the terminal shows them (log lines go to stderr)
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
    if done.returncode != 0:
        raise SystemExit(
            f"xpnet {' '.join(args)} exited {done.returncode}:\n{(done.stderr or done.stdout)[-2000:]}"
        )
    return json.loads(done.stdout) if json_out else done.stdout.splitlines()


def show(command: str, lines: list[str]) -> None:
    print(f"$ {command}")
    for line in lines:
        print(line)
    print()


def train_figures() -> None:
    lines = xpnet("train")
    show("xpnet train", [line for line in lines if "early stopping" in line or "test accuracy" in line])


def seed_scores(extra: list[str]) -> list[float]:
    return [xpnet("train", *extra, "--seed", str(s), json_out=True)["test_accuracy"] for s in range(5)]


def seeds_figures() -> None:
    scores = seed_scores([])
    show("xpnet train --seed S  (S = 0..4)", [", ".join(f"{a:.4f}" for a in scores)])


def cosine_figures() -> None:
    base = ["--optimizer", "adam", "--batch-norm", "--schedule", "cosine"]
    lines = xpnet("train", *base)
    show(f"xpnet train {' '.join(base)}", ["...", *lines[-3:]])
    constant = [*base, "--lr", "1e-3", "--warmup-epochs", "0"]
    report = xpnet("train", *constant, json_out=True)
    show(f"xpnet train {' '.join(constant)}", [f"test accuracy {report['test_accuracy']:.4f}"])
    for extra in (base, constant):
        scores = seed_scores(extra)
        text = ", ".join(f"{a:.4f}" for a in scores)
        show(f"xpnet train {' '.join(extra)} --seed S", [f"{text}; mean {statistics.mean(scores):.4f}"])


def threads_figures() -> None:
    times: dict[str, list[float]] = {"1": [], "0": []}
    accuracy: dict[str, set] = {"1": set(), "0": set()}
    for _ in range(2):
        for threads in ("1", "0"):
            r = xpnet("train", "--epochs", "30", "--patience", "0", "--threads", threads, json_out=True)
            times[threads].append(r["train_seconds"])
            accuracy[threads].add(round(r["test_accuracy"], 4))
    show(
        "xpnet train --epochs 30 --patience 0 --threads 1 / --threads 0 (alternated, twice)",
        [
            f"--threads {t}: {', '.join(f'{s:.2f}' for s in times[t])} s of training, "
            f"test accuracy {sorted(accuracy[t])}"
            for t in ("1", "0")
        ],
    )


def tune_figures(threads: str = "1") -> None:
    start = time.perf_counter()
    lines = xpnet("tune", "--trials", "50", "--retrain", "--threads", threads)
    wall = time.perf_counter() - start
    summary = [line for line in lines if line.startswith(("study ", "best ", "retrained"))]
    show(f"xpnet tune --trials 50 --retrain --threads {threads}  ({wall:.1f} s wall)", summary)


def bench_quick_figures() -> None:
    start = time.perf_counter()
    xpnet("bench", "--quick")
    show("xpnet bench --quick", [f"took {time.perf_counter() - start:.0f} s"])


def _ratio(value: float | None, bold: bool) -> str:
    if value is None:
        return "–"
    return f"**{value:.2f}×**" if bold else f"{value:.2f}×"


def bench_table(record: Path) -> None:
    """The README's Markdown table from an ``xpnet bench --json`` record."""
    records = json.loads(record.read_text())
    rows = ["| workload | runner | epoch s | samples/s | % peak | vs torch | vs article |"]
    rows.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in records:
        seed = r["workload"] == "seed"
        workload = f"seed ({r['dtype']})" if seed else r["workload"]
        runner = "xpnet numpy" if r["backend"] == "xpnet-numpy" else r["backend"]
        pct = "–" if r.get("pct_peak") is None else f"{r['pct_peak']:.1f}"
        xp = r["backend"] == "xpnet-numpy"
        rows.append(
            f"| {workload} | {runner} | {r['epoch_s_median']:.4f} | {r['samples_per_s']:,.0f} | {pct} | "
            f"{_ratio(r.get('ratio_to_torch'), xp)} | {_ratio(r.get('ratio_to_article'), xp)} |"
        )
    show(f"bench table from {record.name}", rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="all", help=f"comma-separated: {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--record", type=Path, default=DEFAULT_RECORD, help="bench-table's JSON record")
    args = parser.parse_args(argv)
    chosen = [s for s in SECTIONS if s not in SLOW] if args.only == "all" else args.only.split(",")
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# README figures, {now}; {machine()}\n")
    run = {
        "train": train_figures,
        "seeds": seeds_figures,
        "cosine": cosine_figures,
        "threads": threads_figures,
        "tune": tune_figures,
        "tune-threads": lambda: tune_figures("0"),
        "bench-quick": bench_quick_figures,
        "bench-table": lambda: bench_table(args.record),
    }
    for section in chosen:
        run[section]()


if __name__ == "__main__":
    main()
