"""The `seed` workload measured in one process: xpnet against the article's loop, and NumPy's floor.

The harness (`xpnet bench --workloads seed`) runs each runner in its own worker process; this
script runs them in one process, one BLAS thread, alternating blocks of ``--epochs`` epochs and
keeping the best block of ``--repeats``, and adds a hand-written in-place NumPy step of the same
network (matmuls into kept buffers, the fused softmax + cross-entropy) as the floor any NumPy
implementation of this math can reach. README "Benchmarks" quotes its output.

    .venv/bin/python bench/seed_in_process.py --repeats 7 --epochs 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

import xpnet
from xpnet.bench.article_loop import ArticleNet

LAYERS = (64, 64, 64, 10)


def article_epoch(X, y, dtype):
    """One epoch of the article's loop (fresh arrays for every intermediate)."""
    net, Xa, Y = ArticleNet(LAYERS, dtype), X.astype(dtype), np.eye(10, dtype=dtype)[y]

    def epoch():
        net.forward(Xa)
        net.backward(Xa, Y, 0.1)
        return float(np.mean((net.a[-1] - Y) ** 2))

    return epoch


def xpnet_epoch(X, y, dtype):
    """One epoch of xpnet's Trainer (sigmoid hidden, softmax + cross-entropy, SGD 0.1, full batch)."""
    net = xpnet.MLP(
        list(LAYERS), activation="sigmoid", init="glorot_uniform", dtype=dtype, seed=0, dropout=0.0
    )
    trainer = xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.1), batch_size=None)
    Xd, Yd = net.as_input(X), net.as_targets(y, len(X), "categorical_crossentropy")

    def epoch():
        loss, norm = trainer.train_epoch(Xd, Yd)
        return net.backend.to_numpy(net.xp.stack([loss, norm]))

    return epoch


def floor_epoch(X, y, dtype):
    """The same step written by hand in NumPy, in place, into buffers kept between steps."""
    r, n = np.random.default_rng(0), len(X)
    Xd, Y = X.astype(dtype), np.eye(10, dtype=dtype)[y]
    W = [r.uniform(-0.2, 0.2, (a, b)).astype(dtype) for a, b in zip(LAYERS[:-1], LAYERS[1:], strict=True)]
    B = [np.zeros(b, dtype) for b in LAYERS[1:]]
    A = [np.empty((n, 64), dtype) for _ in range(2)]
    D = [np.empty((n, 64), dtype) for _ in range(2)]
    T, Z = np.empty((n, 64), dtype), np.empty((n, 10), dtype)
    GW, GB = [np.empty_like(w) for w in W], [np.empty_like(b) for b in B]

    def epoch():
        h = Xd
        for i in range(2):
            np.matmul(h, W[i], out=A[i])
            A[i] += B[i]
            np.negative(A[i], out=A[i])
            np.exp(A[i], out=A[i])
            A[i] += 1.0
            np.divide(1.0, A[i], out=A[i])
            h = A[i]
        np.matmul(h, W[2], out=Z)
        np.add(Z, B[2], out=Z)
        t = Z - Z.max(axis=1, keepdims=True)
        e = np.exp(t)
        s = e.sum(axis=1, keepdims=True)
        e /= s
        loss = (np.log(s) - (Y * t).sum(axis=1, keepdims=True)).sum() / n
        dz = (e - Y) / n
        np.matmul(A[1].T, dz, out=GW[2])
        np.sum(dz, axis=0, out=GB[2])
        np.matmul(dz, W[2].T, out=D[1])
        for i in (1, 0):
            np.multiply(A[i], A[i], out=T)
            np.subtract(A[i], T, out=T)
            D[i] *= T
            np.matmul((A[i - 1] if i else Xd).T, D[i], out=GW[i])
            np.sum(D[i], axis=0, out=GB[i])
            if i:
                np.matmul(D[i], W[i].T, out=D[i - 1])
        for w, g in zip(W + B, GW + GB, strict=True):
            w -= 0.1 * g
        return loss

    return epoch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with threadpool_limits(1):
        runs = {
            (name, dtype): make(X, y, dtype)
            for dtype in ("float64", "float32")
            for name, make in (
                ("article", article_epoch),
                ("xpnet", xpnet_epoch),
                ("numpy floor", floor_epoch),
            )
        }
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.repeats):
            for key, epoch in runs.items():
                epoch()
                start = time.perf_counter()
                for _ in range(args.epochs):
                    epoch()
                best[key] = min(best[key], (time.perf_counter() - start) / args.epochs * 1e3)
    for dtype in ("float64", "float32"):
        article = best[("article", dtype)]
        for name in ("article", "xpnet", "numpy floor"):
            ms = best[(name, dtype)]
            print(f"{dtype}  {name:<12} {ms:7.3f} ms/epoch   article/this {article / ms:5.2f}x")
    ratio = best[("article", "float64")] / best[("xpnet", "float32")]
    print(f"xpnet float32 against the article's float64 loop: {ratio:.2f}x")


if __name__ == "__main__":
    main()
