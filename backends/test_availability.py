"""Missing array libraries and devices: the documented error, with what to install, and no eager imports."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import xpnet
from xpnet import backend as backend_module

# backend name -> (module it imports, words the install hint must contain)
HINTS = {
    "torch": ("torch", "pip install torch"),
    "cupy": ("cupy", 'pip install "xpnet[cuda12]"'),
    "array_api_strict": ("array_api_strict", "pip install array-api-strict"),
}


def _hide(monkeypatch, module: str):
    """Make ``import module`` fail inside xpnet.backend, as on a machine without it."""
    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(backend_module.importlib, "import_module", fake)


@pytest.mark.parametrize("name", list(HINTS))
def test_missing_library_raises_backend_unavailable_with_install_hint(name, monkeypatch):
    module, hint = HINTS[name]
    _hide(monkeypatch, module)
    with pytest.raises(xpnet.BackendUnavailableError) as info:
        xpnet.get_backend(name)
    message = str(info.value)
    assert hint in message and repr(module) in message and repr(name) in message, message
    assert isinstance(info.value, ImportError)  # `except ImportError` still catches it
    with pytest.raises(xpnet.BackendUnavailableError, match="Install it with"):
        xpnet.MLP([3, 2], backend=name, dropout=0.0)
    assert "not installed" in xpnet.available_backends()[name]


def test_cupy_without_a_gpu_says_so(monkeypatch):
    """cupy importable but no CUDA device: the error names the GPU requirement and the way out."""
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(
        xpnet.BackendUnavailableError, match="needs an NVIDIA GPU.*no CUDA device found.*numpy"
    ):
        xpnet.get_backend("cupy")

    def broken():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake.cuda.runtime.getDeviceCount = broken
    with pytest.raises(xpnet.BackendUnavailableError, match="cudaErrorInsufficientDriver"):
        xpnet.get_backend("cupy")


def test_torch_cuda_without_a_gpu_says_so():
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so torch on 'cuda' is available")
    with pytest.raises(xpnet.BackendUnavailableError, match="CUDA build of PyTorch.*device='cpu'"):
        xpnet.get_backend("torch", device="cuda")


def test_unknown_backend_name_is_a_value_error():
    with pytest.raises(ValueError, match="backend='jax' is unknown; choose one of numpy, cupy, torch"):
        xpnet.get_backend("jax")


def test_import_xpnet_imports_no_optional_array_library():
    """``import xpnet`` stays light and works without a GPU: torch, cupy, array_api_strict load lazily."""
    code = (
        "import sys, xpnet; net = xpnet.MLP([3, 2]); net.predict([[0.0, 1.0, 2.0]]);"
        "print(sorted(m for m in ('torch', 'cupy', 'array_api_strict') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_available_backends_reports_each_backend():
    report = xpnet.available_backends()
    assert set(report) == {"numpy", "cupy", "torch", "array_api_strict"}
    assert report["numpy"] == "available"
    for name, status in report.items():
        assert status == "available" or "install" in status.lower() or "gpu" in status.lower(), (name, status)
