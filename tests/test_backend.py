"""The backend shim: namespaces, devices, seeded RNG, transfers and clear errors."""

from __future__ import annotations

import builtins
import subprocess
import sys

import numpy as np
import pytest

import xpnet
from xpnet.backend import BackendUnavailableError


def test_roundtrip_and_dtype(backend):
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    d = backend.asarray(x, dtype="float32")
    assert d.dtype == backend.xp.float32
    assert np.array_equal(backend.to_numpy(d), x.astype(np.float32))
    assert backend.item(backend.xp.sum(d)) == 15.0
    backend.synchronize()


def test_rng_is_seeded_and_on_device(backend):
    xp = backend.xp
    a = backend.rng(3).normal((1000,), xp.float64)
    b = backend.rng(3).normal((1000,), xp.float64)
    c = backend.rng(4).normal((1000,), xp.float64)
    assert np.array_equal(backend.to_numpy(a), backend.to_numpy(b))
    assert not np.array_equal(backend.to_numpy(a), backend.to_numpy(c))
    assert a.device == backend.device
    host = backend.to_numpy(a)
    assert abs(host.mean()) < 0.15 and abs(host.std() - 1.0) < 0.1
    u = backend.to_numpy(backend.rng(0).uniform((5000,), xp.float32))
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.03
    mask = backend.to_numpy(backend.rng(0).bernoulli(0.8, (20000,), xp.float32))
    assert set(np.unique(mask)) <= {0.0, 1.0} and abs(mask.mean() - 0.8) < 0.02
    perm = backend.to_numpy(backend.rng(0).permutation(50))
    assert sorted(perm.tolist()) == list(range(50)) and perm.tolist() != list(range(50))


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="numpy, cupy, torch, array_api_strict"):
        xpnet.get_backend("jax")


def test_missing_library_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(BackendUnavailableError, match=r'pip install "xpnet\[cuda12\]"'):
        xpnet.get_backend("cupy")


def test_numpy_backend_rejects_gpu_device():
    with pytest.raises(ValueError, match="CPU only"):
        xpnet.get_backend("numpy", device="cuda:0")


def test_import_xpnet_imports_no_gpu_library():
    code = "import sys, xpnet; print(any(m in sys.modules for m in ('cupy', 'torch')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_available_backends_reports_each():
    status = xpnet.available_backends()
    assert set(status) == {"numpy", "cupy", "torch", "array_api_strict"}
    assert status["numpy"] == "available"
