"""Initializer statistics: KS tests against the exact distributions, and torch.nn.init side by side.

xpnet's ``W`` is ``(fan_in, fan_out)``; torch stores ``(fan_out, fan_in)`` and reads its fans
from that layout, so a torch tensor of shape ``(fan_out, fan_in)`` has the same fans.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import xpnet

torch = pytest.importorskip("torch", reason="the parity suite compares with PyTorch: pip install torch")

# asymmetric shapes, so swapped fans change every bound and standard deviation
SHAPES = [(64, 32), (10, 200), (300, 20), (784, 128)]
KS_ALPHA = 1e-3  # deterministic seeds; a wrong scale gives p-values far below this


def exact(method: str, fan_in: int, fan_out: int):
    """The distribution each method must draw from, written from torch.nn.init's definitions."""
    if method == "glorot_uniform":
        b = math.sqrt(6.0 / (fan_in + fan_out))
        return stats.uniform(loc=-b, scale=2 * b)
    if method == "he_uniform":  # kaiming_uniform_(a=0, nonlinearity="relu"): gain sqrt(2) * sqrt(3 / fan_in)
        b = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
        return stats.uniform(loc=-b, scale=2 * b)
    if method == "glorot_normal":
        return stats.norm(scale=math.sqrt(2.0 / (fan_in + fan_out)))
    if method == "he_normal":
        return stats.norm(scale=math.sqrt(2.0) / math.sqrt(fan_in))
    if method == "random":
        return stats.norm()
    raise KeyError(method)


def torch_init(method: str, fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    """The same-fans tensor drawn by torch.nn.init, transposed to xpnet's (fan_in, fan_out)."""
    init = torch.nn.init
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    {
        "glorot_uniform": lambda: init.xavier_uniform_(w, generator=gen),
        "glorot_normal": lambda: init.xavier_normal_(w, generator=gen),
        "he_uniform": lambda: init.kaiming_uniform_(w, a=0, nonlinearity="relu", generator=gen),
        "he_normal": lambda: init.kaiming_normal_(w, a=0, nonlinearity="relu", generator=gen),
        "random": lambda: init.normal_(w, generator=gen),
        "zeros": lambda: init.zeros_(w),
    }[method]()
    return w.numpy().T


def xpnet_init(method: str, fan_in: int, fan_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of a one-layer float64 MLP built with ``init=method``."""
    net = xpnet.MLP(
        [fan_in, fan_out], init=method, output="identity", dtype="float64", seed=seed, dropout=0.0
    )
    state = net.state_dict()
    return net.backend.to_numpy(state["dense0.weight"]), net.backend.to_numpy(state["dense0.bias"])


RANDOM_METHODS = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "random"]
CASES = [(m, s) for m in RANDOM_METHODS for s in SHAPES]


@pytest.mark.parametrize("method,shape", CASES, ids=[f"{m}-{s[0]}x{s[1]}" for m, s in CASES])
def test_kolmogorov_smirnov_against_exact_distribution(method, shape, check):
    fan_in, fan_out = shape
    W, b = xpnet_init(method, fan_in, fan_out, seed=fan_in + fan_out)
    assert W.shape == (fan_in, fan_out) and W.dtype == np.float64
    np.testing.assert_array_equal(b, np.zeros(fan_out))  # biases start at zero
    dist = exact(method, fan_in, fan_out)
    result = stats.kstest(W.ravel(), dist.cdf)
    assert result.pvalue > KS_ALPHA, (
        f"init={method!r} {shape}: KS statistic {result.statistic:.4f}, p={result.pvalue:.2e} against "
        f"the exact distribution (std {dist.std():.4f}); sample std {W.std():.4f}, max|W| {np.abs(W).max():.4f}"
    )
    # the same test on torch's tensor, so a failing reference would show here too
    assert stats.kstest(torch_init(method, fan_in, fan_out, seed=1).ravel(), dist.cdf).pvalue > KS_ALPHA
    check(f"init {method} std, sample vs exact (statistical)", W.std(), dist.std(), rtol=0.1)


@pytest.mark.parametrize("method,shape", CASES, ids=[f"{m}-{s[0]}x{s[1]}" for m, s in CASES])
def test_mean_std_bounds_match_torch_nn_init(method, shape, check):
    fan_in, fan_out = shape
    n = fan_in * fan_out
    W, _ = xpnet_init(method, fan_in, fan_out, seed=3)
    T = torch_init(method, fan_in, fan_out, seed=4)
    assert W.shape == T.shape
    sigma = exact(method, fan_in, fan_out).std()
    # sampling error of the mean is sigma/sqrt(n); of the std at most ~sigma*sqrt(0.8/n) (normal: 0.5/n)
    what = f"init={method!r} {shape}: xpnet mean {W.mean():.5f} std {W.std():.5f}; torch mean {T.mean():.5f} std {T.std():.5f}"
    assert abs(W.mean() - T.mean()) < 6 * sigma * math.sqrt(2.0 / n), what
    assert abs(W.std() - T.std()) < 6 * sigma * math.sqrt(1.6 / n), what
    check(f"init {method} std, xpnet vs torch (statistical)", W.std(), T.std(), rtol=6 * math.sqrt(1.6 / n))
    if method.endswith("uniform"):
        bound = exact(method, fan_in, fan_out).support()[1]
        for who, sample in (("xpnet", W), ("torch", T)):  # both fill [-b, b], reaching close to +-b
            span = f"{who} init={method!r} {shape}: range [{sample.min():.5f}, {sample.max():.5f}], bound {bound:.5f}"
            assert np.abs(sample).max() <= bound, span
            assert sample.max() > bound * (1 - 20.0 / n) and sample.min() < -bound * (1 - 20.0 / n), span
        check(
            f"init {method} max|W|, xpnet vs torch (statistical)",
            np.abs(W).max(),
            np.abs(T).max(),
            rtol=20.0 / n,
        )


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s[0]}x{s[1]}" for s in SHAPES])
def test_zeros_matches_torch_zeros(shape, check):
    W, b = xpnet_init("zeros", *shape, seed=0)
    check("init zeros", W, torch_init("zeros", *shape, seed=0), rtol=0, atol=0)
    np.testing.assert_array_equal(b, 0.0)


def test_every_initializer_is_covered():
    from xpnet.initializers import INITIALIZERS

    assert set(INITIALIZERS) == {*RANDOM_METHODS, "zeros"}


def test_one_seed_one_network_different_seeds_differ():
    a, _ = xpnet_init("he_normal", 20, 10, seed=1)
    b, _ = xpnet_init("he_normal", 20, 10, seed=1)
    c, _ = xpnet_init("he_normal", 20, 10, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
