"""Shared fixtures: the core scenarios run on NumPy and on array-api-strict's non-default device.

``one_torch_thread`` lives in the root conftest.py, shared with parity/ and backends/.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet

CORE_BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", "device1"), id="array_api_strict"),
]


@pytest.fixture(params=CORE_BACKENDS)
def backend(request) -> xpnet.Backend:
    """NumPy, and array-api-strict on Device('device1'), where any stray NumPy call fails."""
    name, device = request.param
    pytest.importorskip(name)
    return xpnet.get_backend(name, device=device)


@pytest.fixture
def blobs():
    """A small, well-separated 3-class problem (generated, float64)."""
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0, 0.0, 1.0], [-2.0, 1.0, 0.0, 0.0], [0.0, -2.0, 1.0, -1.0]])
    y = rng.integers(0, 3, 150)
    X = centers[y] + 0.5 * rng.standard_normal((150, 4))
    return X, y
