"""Backend conformance fixtures: every backend present, its tolerances, and an error summary.

Each backend case is ``(name, device)``; cases that cannot run here skip and say exactly why.
Every numeric comparison with the NumPy float64 reference goes through ``check``, which records
the largest error per component for the table printed at the end of the run.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import xpnet

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


def skip_reason(name: str, device) -> str | None:
    """Why this backend case cannot run on this machine, or None if it can."""
    if name == "torch" and importlib.util.find_spec("torch") is None:
        return "torch is not installed: pip install torch"
    if name == "array_api_strict" and importlib.util.find_spec("array_api_strict") is None:
        return "array-api-strict is not installed: pip install array-api-strict"
    if name == "cupy" and importlib.util.find_spec("cupy") is None:
        return 'cupy is not installed (and needs an NVIDIA GPU): pip install "xpnet[cuda12]"'
    if name == "torch" and str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU on this machine (torch.cuda.is_available() is False)"
    try:
        xpnet.get_backend(name, device=device)
    except xpnet.BackendUnavailableError as exc:
        return f"backend {name!r} is unavailable here: {exc}"
    return None


def _make(param) -> xpnet.Backend:
    name, device, _ = param
    reason = skip_reason(name, device)
    if reason:
        pytest.skip(reason)
    return xpnet.get_backend(name, device=device)


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    """Tiny tensors gain nothing from threads, and on a shared machine they spin: one thread per module here.

    Restored after each module, so suites collected later (bench/) keep torch's own setting.
    """
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


# component -> [largest |actual - expected|, largest relative error, number of comparisons]
_ERRORS: dict[str, list[float]] = {}


@pytest.fixture
def check():
    """``check(component, actual, expected, rtol, atol)``: record the error, then assert closeness."""

    def _check(component, actual, expected, rtol, atol, msg=""):
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        assert a.shape == e.shape, f"{component}: shape {a.shape} != {e.shape} {msg}"
        diff = float(np.max(np.abs(a - e))) if a.size else 0.0
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        rel = diff / scale if scale > 1e-12 else 0.0
        row = _ERRORS.setdefault(component, [0.0, 0.0, 0])
        row[0], row[1], row[2] = max(row[0], diff), max(row[1], rel), row[2] + 1
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=False, err_msg=f"{component} {msg}")

    return _check


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print each backend/dtype component with the largest error seen against NumPy float64."""
    if not _ERRORS:
        return
    tr = terminalreporter
    tr.section("xpnet backends: largest error vs the NumPy float64 reference")
    width = max(len("component"), *(len(k) for k in _ERRORS))
    tr.write_line(f"{'component':<{width}}  {'max abs err':>11}  {'max rel err':>11}  {'checks':>6}")
    for name in sorted(_ERRORS):
        diff, rel, count = _ERRORS[name]
        tr.write_line(f"{name:<{width}}  {diff:>11.2e}  {rel:>11.2e}  {count:>6}")
    tr.write_line("rel err = max|backend - reference| / max|reference| per compared array")
