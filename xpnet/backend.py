"""The ``xp`` shim: one small object per array library.

A :class:`Backend` holds the Array API namespace ``xp`` (from ``array_api_compat``), the
device, a seeded device random generator, host<->device transfer and ``synchronize()``.
The math modules take a backend and use ``backend.xp``; they never import an array
library themselves. Array libraries other than NumPy are imported lazily, so
``import xpnet`` never imports cupy or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from .numpy_ops import NumpyOps
from .ops import Ops
from .random import CounterRNG, argsort_u32_numpy, philox_u32, philox_u32_numpy

DeviceRNG = CounterRNG  # the name before issue 17

BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")
_NUMPY_COMPLIANT = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 1)
FLOAT_DTYPES = ("float32", "float64")

_INSTALL_HINT = {
    "cupy": 'pip install "xpnet[cuda12]" (CUDA 12) or "xpnet[cuda13]" (CUDA 13)',
    "torch": "pip install torch",
    "array_api_strict": "pip install array-api-strict",
}


class BackendUnavailableError(ImportError):
    """The requested array library or device is not available on this machine."""


def _import(module: str, backend: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend={backend!r} needs the {module!r} package, which is not installed "
            f"({exc}). Install it with: {_INSTALL_HINT[backend]}"
        ) from None


class Backend(Ops):
    """Namespace, device, the few things the Array API standard lacks, and the hot ops.

    The ops (:class:`xpnet.ops.Ops`) are the plain-``xp`` reference; a subclass overrides
    the ones it runs faster. Used directly, ``Backend()`` is NumPy running the reference ops,
    which is what ``backends/`` compares :class:`NumpyBackend`'s overrides against.
    """

    name = "numpy"

    def __init__(self, device: Any = None):
        self.device = self._resolve_device(device)
        self.xp = self._namespace()

    # --- per-library hooks (overridden below) -------------------------------------
    def _resolve_device(self, device):
        if device not in (None, "cpu"):
            raise ValueError(f"backend='numpy' runs on the CPU only; got device={device!r}")
        return "cpu"

    def _namespace(self):
        # NumPy >= 2.1 implements the standard itself: using it directly skips the
        # array_api_compat wrappers (a Python call per op, which per-step overhead feels).
        if _NUMPY_COMPLIANT:
            return np
        return array_api_compat.array_namespace(np.empty(0))

    def _philox_u32(self, key, counter, nblocks):
        """Philox blocks as 32-bit values on the device (:func:`xpnet.random.philox_u32`)."""
        return philox_u32(self.xp, self.device, key, counter, nblocks)

    def _argsort_keys(self, keys):
        """The stable argsort of random keys: a permutation, ties kept in index order."""
        return self.xp.argsort(keys, stable=True)

    def to_numpy(self, x) -> np.ndarray:
        """Copy ``x`` to a host NumPy array."""
        return np.asarray(x)

    def synchronize(self) -> None:
        """Wait for queued device work, so wall-clock timings are honest."""

    @property
    def device_name(self) -> str:
        """A human-readable name of the device, for logs and benchmark records."""
        import platform

        return platform.processor() or platform.machine() or "cpu"

    # --- shared --------------------------------------------------------------------
    def asarray(self, x, dtype: Any = None):
        """Move ``x`` (NumPy array, list or backend array) onto this backend's device."""
        if dtype is not None and isinstance(dtype, str):
            dtype = self.dtype(dtype)
        return self.xp.asarray(x, dtype=dtype, device=self.device)

    def dtype(self, name: str):
        """The namespace's dtype object for ``'float32'``/``'float64'``/``'int64'``."""
        return getattr(self.xp, name)

    def item(self, x) -> float:
        """The one approved device->host sync in library code: a 0-d array to float."""
        return float(self.to_numpy(x))

    def rng(self, seed: int | None = None, stream: int = 0) -> CounterRNG:
        """A counter-based generator with key ``(seed, stream)``: the same bits on every backend."""
        return CounterRNG(self, seed, stream)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"


class NumpyBackend(NumpyOps, Backend):
    """NumPy on the CPU, with the in-place overrides of :mod:`xpnet.numpy_ops`."""

    def _philox_u32(self, key, counter, nblocks):
        return philox_u32_numpy(key, counter, nblocks)  # NumPy's C Philox: the same bits, faster

    def _argsort_keys(self, keys):
        return argsort_u32_numpy(keys)


class CupyBackend(Backend):
    name = "cupy"

    def _resolve_device(self, device):
        cp = _import("cupy", "cupy")
        try:
            n = cp.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            n, reason = 0, str(exc)
        else:
            reason = "no CUDA device found"
        if n == 0:
            raise BackendUnavailableError(
                f"backend='cupy' needs an NVIDIA GPU with a working CUDA driver: {reason}. "
                "Use backend='numpy' on this machine."
            )
        index = _device_index(device, "cupy")
        if index >= n:
            raise ValueError(f"device={device!r}: this machine has {n} CUDA device(s)")
        return cp.cuda.Device(index)

    def _namespace(self):
        import cupy

        return array_api_compat.array_namespace(cupy.empty(0))

    def asarray(self, x, dtype=None):
        if isinstance(dtype, str):
            dtype = self.dtype(dtype)
        with self.device:
            return self.xp.asarray(x, dtype=dtype)

    def _philox_u32(self, key, counter, nblocks):
        with self.device:
            return philox_u32(self.xp, None, key, counter, nblocks)

    def to_numpy(self, x):
        import cupy

        return cupy.asnumpy(x)

    def synchronize(self):
        self.device.synchronize()

    @property
    def device_name(self):
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(self.device.id)
        return props["name"].decode()


class TorchBackend(Backend):
    name = "torch"

    def _resolve_device(self, device):
        torch = _import("torch", "torch")
        dev = torch.device(device if device is not None else "cpu")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"backend='torch' with device={device!r} needs a CUDA build of PyTorch and "
                "an NVIDIA GPU; none is available here. Use device='cpu'."
            )
        return dev

    def _namespace(self):
        import torch

        return array_api_compat.array_namespace(torch.empty(0))

    def _philox_u32(self, key, counter, nblocks):
        if self.device.type != "cpu":  # on a GPU the portable ops run there: no transfer, no sync
            return super()._philox_u32(key, counter, nblocks)
        import torch  # on the CPU, host and device are one: NumPy's C Philox, the same bits

        return torch.from_numpy(philox_u32_numpy(key, counter, nblocks).astype(np.int64))

    def _argsort_keys(self, keys):
        if self.device.type != "cpu":
            return super()._argsort_keys(keys)
        import torch

        return torch.from_numpy(argsort_u32_numpy(keys.numpy()))

    def to_numpy(self, x):
        return x.detach().cpu().numpy()

    def synchronize(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @property
    def device_name(self):
        import torch

        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return super().device_name


class StrictBackend(Backend):
    """array-api-strict: the standard and nothing else; catches stray NumPy calls."""

    name = "array_api_strict"

    def _resolve_device(self, device):
        strict = _import("array_api_strict", "array_api_strict")
        if device is None or isinstance(device, strict.Device):
            return device or strict.Device("CPU_DEVICE")
        return strict.Device(str(device))

    def _namespace(self):
        import array_api_strict

        return array_api_strict

    def to_numpy(self, x):
        import array_api_strict

        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))


def _device_index(device, backend: str) -> int:
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    text = str(device)
    if text.startswith("cuda"):
        text = text.partition(":")[2] or "0"
    if text.isdigit():
        return int(text)
    raise ValueError(f"device={device!r} is not a CUDA device for backend={backend!r}; use 'cuda:N'")


_CLASSES = {
    "numpy": NumpyBackend,
    "cupy": CupyBackend,
    "torch": TorchBackend,
    "array_api_strict": StrictBackend,
}


def get_backend(name: str | Backend = "numpy", device: Any = None) -> Backend:
    """Return the :class:`Backend` for ``name`` (numpy, cupy, torch, array_api_strict).

    Raises ``ValueError`` for an unknown name and :class:`BackendUnavailableError` (an
    ``ImportError``) naming what to install when the library or device is missing.
    """
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str) or name not in _CLASSES:
        raise ValueError(f"backend={name!r} is unknown; choose one of {', '.join(BACKENDS)}")
    return _CLASSES[name](device)


def available_backends() -> dict[str, str]:
    """Map each backend name to 'available' or the reason it is not."""
    out = {}
    for name in BACKENDS:
        try:
            get_backend(name)
            out[name] = "available"
        except (ImportError, ValueError) as exc:
            out[name] = str(exc)
    return out


def backend_of(x) -> Backend:
    """The backend an array belongs to (NumPy arrays -> numpy backend)."""
    ns = array_api_compat.array_namespace(x)
    if array_api_compat.is_cupy_namespace(ns):
        return CupyBackend(x.device.id)
    if array_api_compat.is_torch_namespace(ns):
        return TorchBackend(x.device)
    if ns.__name__ == "array_api_strict":
        return StrictBackend(x.device)
    return NumpyBackend()
