"""Issue 17, item 4: the counter-based generator's cost against the generator it replaced.

One process, single-threaded (BLAS capped to one thread), old and new draws interleaved, best of
``--repeats``. "old" is the pre-issue-17 NumPy path (``np.random.default_rng``: ``permutation``
for batch order, ``random(shape) < keep`` for dropout masks); "new" is :class:`xpnet.random.CounterRNG`
on the NumPy backend (NumPy's C Philox-4x64-10, bit-identical to the portable Array API path).

    OMP_NUM_THREADS=1 .venv/bin/python bench/rng_cost.py --repeats 15
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import xpnet
from xpnet.bench.workloads import WORKLOADS, make_data
from xpnet.bench.xpnet_loop import xpnet_config


class LegacyRNG:
    """The draws xpnet made before issue 17, on NumPy."""

    def __init__(self, seed):
        self.gen = np.random.default_rng(seed)

    def permutation(self, n):
        return self.gen.permutation(n)

    def bernoulli(self, keep, shape, dtype):
        return (self.gen.random(shape, dtype=dtype) < keep).astype(dtype)


def seconds(fn):
    """Wall-clock seconds of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(label, make_fn, repeats):
    """``make_fn(kind)`` -> a callable; old and new interleaved, best of ``repeats`` each."""
    fns = {kind: make_fn(kind) for kind in ("old", "new")}
    for fn in fns.values():
        fn()  # warm up
    res = {kind: [] for kind in fns}
    for _ in range(repeats):
        for kind, fn in fns.items():
            res[kind].append(seconds(fn))
    old, new = min(res["old"]), min(res["new"])
    print(f"{label:<46} old {old * 1e3:9.3f} ms   new {new * 1e3:9.3f} ms   new/old {new / old:6.3f}")
    return old, new


def draws(repeats):
    be = xpnet.get_backend("numpy")

    def mask(kind):
        rng = LegacyRNG(0) if kind == "old" else be.rng(0)
        return lambda: rng.bernoulli(0.8, (4096, 1024), np.float32)

    side_by_side("dropout mask 4096x1024 float32 (keep 0.8)", mask, repeats)
    for n in (1797, 60000):

        def perm(kind, n=n):
            rng = LegacyRNG(0) if kind == "old" else be.rng(0)
            return lambda: rng.permutation(n)

        side_by_side(f"batch order, permutation({n})", perm, repeats)


def epoch(name, size, dropout, repeats, epochs_per_sample=1):
    w = WORKLOADS[name]
    X, y = make_data(w, size, "float32")

    def make(kind):
        cfg = xpnet_config(w, "numpy", "float32", 0)
        net, trainer, _ = cfg.build(w.layers[0], w.layers[-1])
        if dropout:
            net = xpnet.MLP(
                list(w.layers), activation=w.activation, dropout=dropout, seed=0, init="he_normal"
            )
            trainer = xpnet.Trainer(net, optimizer="sgd", batch_size=w.batch_size, shuffle=True, seed=0)
        if kind == "old":
            trainer.rng, net.rng = LegacyRNG(1), LegacyRNG(2)
        Xd, Yd = net.as_input(X), net.as_targets(y, X.shape[0], "categorical_crossentropy")

        def run():
            for _ in range(epochs_per_sample):
                float(trainer.train_epoch(Xd, Yd)[0])

        return run

    old, new = side_by_side(f"{name} ({size}, dropout {dropout}) x{epochs_per_sample} epoch", make, repeats)
    return old, new


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with threadpool_limits(1):
        draws(args.repeats)
        epoch("digits-b64", "full", 0.0, args.repeats, epochs_per_sample=10)
        epoch("mnist-like", "quick", 0.0, args.repeats)
        epoch("mnist-like", "quick", 0.2, args.repeats)


if __name__ == "__main__":
    main()
