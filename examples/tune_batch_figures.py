"""The README's ``xpnet tune --batch`` figures: K trials at a time against one at a time, per sampler seed.

Runs ``xpnet tune --trials N --batch 1`` and ``--batch K`` on digits for each sampler seed
(alternating, so machine load hits both alike), each in its own process, and prints each
run's wall time and best validation accuracy, then the medians and the speed-up::

    python examples/tune_batch_figures.py                       # 64 trials, K = 16, seeds 0 1 2
    python examples/tune_batch_figures.py --trials 16 --batch 8 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def run(trials: int, batch: int, seed: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "xpnet.cli", "tune", "--trials", str(trials), "--batch", str(batch),
           "--sampler-seed", str(seed), "--json", *extra]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("extra", nargs="*", help="more xpnet tune options, after --")
    args = p.parse_args()
    rows: dict[int, list[dict]] = {1: [], args.batch: []}
    for seed in args.seeds:
        for batch in (1, args.batch):
            r = run(args.trials, batch, seed, args.extra)
            rows[batch].append(r)
            print(
                f"sampler seed {seed}  --batch {batch:>2}: {r['seconds']:7.1f} s, best val accuracy "
                f"{r['best_value']:.4f} ({r['n_complete']} complete, {r['n_pruned']} pruned, {r['n_failed']} failed)",
                flush=True,
            )
    one = statistics.median(r["seconds"] for r in rows[1])
    many = statistics.median(r["seconds"] for r in rows[args.batch])
    print(
        f"median over sampler seeds {args.seeds}: --batch 1 {one:.1f} s, best "
        f"{statistics.median(r['best_value'] for r in rows[1]):.4f}; --batch {args.batch} {many:.1f} s, best "
        f"{statistics.median(r['best_value'] for r in rows[args.batch]):.4f}; speed-up {one / many:.2f}x"
    )


if __name__ == "__main__":
    main()
