"""Benchmark workloads: network shape, batch, learning rate, data per size mode, and the data itself.

FLOPs per epoch are the matmul work actually done (``flops_exact``, the primary figure): forward,
grad-weights and grad-input matmuls of every layer but the first layer's grad-input, which no
runner computes. ``flops`` is the ``6 x samples x weights`` convention, kept for comparison only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SIZES = ("full", "quick", "smoke")
LR = 0.01
DATA = ("digits-standardized", "digits-16", "gaussian")


@dataclass(frozen=True)
class Workload:
    """One benchmark setting: network shape, activation, batch size and data size per mode.

    ``dtypes`` (when set) are the dtypes this workload always runs in, one row each, whatever
    the run's ``dtype``; ``threads`` (when set) caps every runner's BLAS/OpenMP threads on it;
    ``article`` says the article's own NumPy loop (full batch, sigmoid) runs on it too.
    """

    name: str
    layers: tuple[int, ...]
    activation: str
    batch_size: int | None  # None: full batch
    samples: dict  # size mode -> number of samples
    description: str
    data: str = "gaussian"  # one of DATA
    lr: float = LR
    dtypes: tuple[str, ...] | None = None
    threads: int | None = None
    article: bool = False

    def __post_init__(self):
        if self.data not in DATA:
            raise ValueError(f"data={self.data!r} is unknown; choose one of {', '.join(DATA)}")

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

    def run_dtypes(self, dtype: str) -> tuple[str, ...]:
        """The dtypes this workload runs in when the run asks for ``dtype``."""
        return self.dtypes or (dtype,)


_DIGITS = {"full": 1797, "quick": 1797, "smoke": 256}

# fmt: off
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "digits-full", (64, 64, 10), "sigmoid", None, _DIGITS,
            "sklearn digits (1797 x 64, standardized), [64, 64, 10], sigmoid, full batch",
            data="digits-standardized",
        ),
        Workload(
            "digits-b64", (64, 64, 10), "sigmoid", 64, _DIGITS,
            "sklearn digits, [64, 64, 10], sigmoid, batch 64", data="digits-standardized",
        ),
        Workload(
            "mnist-like", (784, 512, 256, 10), "relu", 256, {"full": 60000, "quick": 6144, "smoke": 256},
            "synthetic 60000 x 784, [784, 512, 256, 10], ReLU, batch 256",
        ),
        Workload(
            "wide", (784, 1024, 1024, 10), "relu", 4096, {"full": 60000, "quick": 8192, "smoke": 256},
            "synthetic 60000 x 784, [784, 1024, 1024, 10], ReLU, batch 4096",
        ),
        Workload(
            "seed", (64, 64, 64, 10), "sigmoid", None, _DIGITS,
            "the article's notebook: sklearn digits (X/16), [64, 64, 64, 10], sigmoid, full batch, "
            "SGD 0.1, float64 (and float32), single-threaded, against the article's own NumPy loop",
            data="digits-16", lr=0.1, dtypes=("float64", "float32"), threads=1, article=True,
        ),
    )
}
# fmt: on


def make_data(workload: Workload, size: str = "full", dtype: str = "float32", seed: int = 0):
    """``(X, y)`` on the host: digits (standardized, or scaled by 1/16) or 10 Gaussian classes."""
    if size not in SIZES:
        raise ValueError(f"size={size!r} is unknown; choose one of {', '.join(SIZES)}")
    n = workload.n_samples(size)
    if workload.data.startswith("digits"):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        if workload.data == "digits-16":
            X = X / 16.0
        else:
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


def workload_dict(w: Workload) -> dict:
    """A JSON-friendly description of a workload (for bench records and docs)."""
    d = asdict(w)
    d["n_weights"] = w.n_weights
    d["flops_per_epoch"] = w.flops(w.n_samples("full"))
    return d
