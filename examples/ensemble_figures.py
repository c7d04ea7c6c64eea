"""The README's ensemble figures: ``xpnet train --ensemble K`` against its single model, per seed.

Runs ``xpnet train --ensemble K --seed S --json`` (digits, the default run) for each seed S,
each in its own process, and prints the ensemble's and the single model's (member 0, which is
plain ``xpnet train --seed S``) test accuracy, NLL and ECE, the training time, and the means::

    python examples/ensemble_figures.py                  # K = 8, seeds 0..4
    python examples/ensemble_figures.py --k 4 --seeds 0 -- --dataset iris
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys


def run(k: int, seed: int, extra: list[str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "xpnet.cli",
        "train",
        "--ensemble",
        str(k),
        "--seed",
        str(seed),
        "--json",
        *extra,
    ]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=8, help="members (default 8)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("extra", nargs="*", help="more xpnet train options, after --")
    args = p.parse_args()
    print(f"{datetime.date.today()} on {platform.machine()} ({platform.processor() or 'cpu'}), "
          f"xpnet train --ensemble {args.k} {' '.join(args.extra)}")  # fmt: skip
    rows = []
    for seed in args.seeds:
        r = run(args.k, seed, args.extra)
        s = r["single"]
        rows.append(r)
        print(
            f"seed {seed}: ensemble accuracy {r['test_accuracy']:.4f} NLL {r['test_nll']:.4f} ECE {r['test_ece']:.4f}"
            f" | single accuracy {s['test_accuracy']:.4f} NLL {s['test_nll']:.4f} ECE {s['test_ece']:.4f}"
            f" | {r['train_seconds']:.2f} s of training",
            flush=True,
        )

    def mean(key, single=False):
        return statistics.mean((r["single"] if single else r)[key] for r in rows)

    print(
        f"mean over seeds {args.seeds}: ensemble accuracy {mean('test_accuracy'):.4f} NLL {mean('test_nll'):.4f} "
        f"ECE {mean('test_ece'):.4f} | single accuracy {mean('test_accuracy', True):.4f} "
        f"NLL {mean('test_nll', True):.4f} ECE {mean('test_ece', True):.4f} | "
        f"median training {statistics.median(r['train_seconds'] for r in rows):.2f} s"
    )


if __name__ == "__main__":
    main()
