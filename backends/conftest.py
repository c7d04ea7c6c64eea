"""Backend conformance fixtures: every backend present, its tolerances, and an error summary.

Each backend case is ``(name, device)``; cases that cannot run here skip and say exactly why.
Every numeric comparison with the NumPy float64 reference goes through ``check``, which records
the largest error per component for the table printed at the end of the run.
"""

from __future__ import annotations

import pytest

import xpnet
from xpnet.testing import ErrorTable, backend_skip_reason

# (name, device, id): numpy and array-api-strict's non-default device always; torch CPU when
# installed; cupy and torch CUDA where a GPU is present
CASES = [
    ("numpy", None, "numpy"),
    ("array_api_strict", "device1", "array_api_strict-device1"),
    ("torch", "cpu", "torch-cpu"),
    ("cupy", "cuda:0", "cupy-cuda"),
    ("torch", "cuda", "torch-cuda"),
]

# tolerances against the NumPy float64 reference: (device kind, dtype) -> (rtol, atol) for one
# forward/backward pass, and for a 50-epoch training run (rounding differences compound)
TOLERANCES = {
    ("cpu", "float64"): {"pass": (1e-12, 1e-14), "train": (1e-9, 1e-12)},
    ("cpu", "float32"): {"pass": (2e-5, 1e-6), "train": (2e-4, 2e-5)},
    ("cuda", "float64"): {"pass": (1e-10, 1e-13), "train": (1e-8, 1e-11)},
    ("cuda", "float32"): {"pass": (1e-4, 1e-5), "train": (1e-3, 1e-4)},
}


def _make(param) -> xpnet.Backend:
    name, device, _ = param
    reason = backend_skip_reason(name, device)
    if reason:
        pytest.skip(reason)
    return xpnet.get_backend(name, device=device)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread_per_module(one_torch_thread) -> None:
    """Every conformance module runs torch on one thread (the root conftest's ``one_torch_thread``)."""


BACKEND_PARAMS = [pytest.param(c, id=c[2]) for c in CASES]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> xpnet.Backend:
    """Each backend present; array-api-strict on Device('device1'), where stray NumPy calls fail."""
    return _make(request.param)


@pytest.fixture(params=BACKEND_PARAMS)
def other_backend(request) -> xpnet.Backend:
    """A second backend, for save-on-one, load-on-another."""
    return _make(request.param)


@pytest.fixture(params=["float64", "float32"])
def dtype(request) -> str:
    return request.param


def device_kind(backend: xpnet.Backend) -> str:
    """'cuda' for GPU backends, else 'cpu' (selects the tolerance row)."""
    return "cuda" if backend.name == "cupy" or "cuda" in str(backend.device) else "cpu"


@pytest.fixture
def tol():
    """``tol(backend, dtype, kind)`` -> ``(rtol, atol)`` from TOLERANCES (kind: 'pass' or 'train')."""

    def _tol(backend, dtype, kind="pass"):
        return TOLERANCES[(device_kind(backend), dtype)][kind]

    return _tol


TABLE = ErrorTable(
    "xpnet backends: largest error vs the NumPy float64 reference",
    "rel err = max|backend - reference| / max|reference| per compared array",
)


@pytest.fixture
def check():
    """``check(component, actual, expected, rtol, atol, msg="")``: record the error, then assert closeness."""
    return TABLE.check


def pytest_terminal_summary(terminalreporter):
    """Print each backend/dtype component with the largest error seen against NumPy float64."""
    TABLE.write(terminalreporter)
