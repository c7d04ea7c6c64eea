"""Initializer bounds and spreads follow torch.nn.init (parity/ runs the KS tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpnet
from xpnet.initializers import initialize


@pytest.mark.parametrize(
    "method,bound,std",
    [
        ("glorot_uniform", math.sqrt(6 / 500), math.sqrt(6 / 500) / math.sqrt(3)),
        ("glorot_normal", None, math.sqrt(2 / 500)),
        ("he_uniform", math.sqrt(6 / 200), math.sqrt(6 / 200) / math.sqrt(3)),
        ("he_normal", None, math.sqrt(2 / 200)),
        ("random", None, 1.0),
    ],
)
def test_scale(method, bound, std):
    W = initialize(method, 200, 300, np.random.default_rng(0))
    assert W.shape == (200, 300)
    if bound is not None:
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.01 * max(std, 1e-3) * 10


def test_zeros_and_biases():
    net = xpnet.MLP([3, 4, 2], init="zeros", seed=0, dropout=0.0)
    assert all(not np.any(np.asarray(v)) for v in net.state_dict().values())
    net = xpnet.MLP([3, 4, 2], init="he_normal", seed=0, dropout=0.0)
    assert not np.any(np.asarray(net.state_dict()["dense0.bias"]))
