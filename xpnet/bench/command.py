"""``xpnet bench``: its argument parser and the command itself."""

from __future__ import annotations

import argparse
import json

from .harness import run
from .report import format_table, plot
from .runners import REFERENCES
from .workloads import WORKLOADS

BENCH_EXAMPLES = """examples:
  xpnet bench --quick                                   # all workloads: numpy vs torch, sklearn, article
  xpnet bench --backends numpy,cupy,torch --workloads mnist-like,wide --repeats 5
  xpnet bench --workloads seed                          # xpnet against the article's own NumPy loop
  xpnet bench --json bench/results/cpu.json --plot bench.png
  xpnet bench --workloads many --repeats 3              # K models at once: fit_many vs sequential vs torch vmap
"""


def _csv(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_bench_parser(sub) -> argparse.ArgumentParser:
    """Register ``xpnet bench`` on the CLI's subparsers."""
    p = sub.add_parser(
        "bench",
        help="epoch throughput per backend against PyTorch and scikit-learn",
        description="Train one epoch at a time on generated data, interleaving xpnet backends with a "
        "plain PyTorch loop, scikit-learn's MLPClassifier and (on the seed workload) the article's NumPy "
        "loop, and report throughput, GFLOP/s (the matmul work actually done per epoch) and percent of "
        "the measured GEMM peak (2048^3 in every mode; the highest of the measurements taken once "
        "the workers are up, before each workload and after the last; above 100 % is flagged "
        "unreliable).",
        epilog=BENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backends", type=_csv, default=["numpy"], help="comma-separated: numpy,cupy,torch")
    p.add_argument(
        "--workloads",
        type=_csv,
        default=list(WORKLOADS),
        help=f"comma-separated: {','.join(WORKLOADS)},many (many: K networks at once, issue 18)",
    )
    p.add_argument(
        "--references",
        type=_csv,
        default=list(REFERENCES),
        help="torch,sklearn,article (default all; the article's loop runs on the seed workload only)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="timed epochs per runner (default 5; 3 with --quick)"
    )
    p.add_argument("--quick", action="store_true", help="small data sizes (under a minute on 2 cores)")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float64"),
        help="dtype of every workload but seed (which runs float64 and float32)",
    )
    p.add_argument("--json", metavar="PATH", help="write the records (a JSON list) here")
    p.add_argument("--plot", metavar="PNG", help="save a throughput bar chart here")
    p.set_defaults(func=cmd_bench)
    return p


def _check_choices(values: list[str], allowed, option: str) -> None:
    for v in values:
        if v not in allowed:
            raise ValueError(f"{option}: {v!r} is unknown; choose from {', '.join(allowed)}")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments describe; print the table, write JSON and plot on request."""
    from ..backend import BACKENDS

    _check_choices(args.backends, tuple(BACKENDS), "--backends")
    _check_choices(args.workloads, (*WORKLOADS, "many"), "--workloads")
    _check_choices(args.references, REFERENCES, "--references")
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1; got {args.repeats}")
    from ..io import check_output_path

    for option in ("json", "plot"):  # before the benchmark runs, not after its results are lost
        if getattr(args, option):
            check_output_path(getattr(args, option), f"--{option}")
    many = []
    if "many" in args.workloads:  # K networks at once (xpnet.bench.many), timed in this process
        from .many import run_many

        many = run_many(args.repeats, args.dtype, log=lambda s: print(s, flush=True))
        args.workloads = [w for w in args.workloads if w != "many"]
        if not args.workloads:
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(many, f, indent=1)
            return 0
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
            json.dump(records + many, f, indent=1)
        print(f"records written to {args.json}")
    if args.plot:
        plot(records, args.plot)
        print(f"plot saved to {args.plot}")
    return 0
