"""Saving and loading models as ``.npz``: arrays plus the architecture as JSON, no pickle.

Files are written to a temporary file beside the target and renamed into place, so an
interrupted save never leaves a truncated or half-written model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 2  # 2: the preprocessing and the run config beside the weights (1 still loads)
_META_KEY = "__xpnet_meta__"


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (JSON) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload[_META_KEY] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_npz(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` from a file written by :func:`atomic_savez` (no pickle)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    with np.load(path, allow_pickle=False) as f:
        if _META_KEY not in f.files:
            raise ValueError(f"{str(path)!r} is not an xpnet file (no {_META_KEY} entry)")
        meta = json.loads(str(f[_META_KEY]))
        arrays = {k: f[k] for k in f.files if k != _META_KEY}
    return arrays, meta


def save_model(
    path: str | os.PathLike,
    config: dict[str, Any],
    arrays: dict[str, np.ndarray],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a model's architecture (``config``), host arrays and ``extra`` JSON metadata to ``path``.

    ``extra`` holds what a model needs besides weights (``preprocess``, ``run_config``).
    """
    meta = {"format": "xpnet.MLP", "version": FORMAT_VERSION, "config": config, **(extra or {})}
    atomic_savez(path, arrays, meta)


def read_model(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """``(config, arrays, meta)`` of a model file written by :func:`save_model` (``meta``: the whole header)."""
    arrays, meta = read_npz(path)
    if meta.get("format") != "xpnet.MLP":
        raise ValueError(f"{str(path)!r} holds {meta.get('format')!r}, not an xpnet.MLP")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} was written by a newer xpnet (format {meta['version']})")
    return dict(meta["config"]), arrays, meta


def check_output_path(path: str | os.PathLike, option: str) -> None:
    """Fail now, not after training, when ``path`` cannot be written: a folder, or no writable parent folder."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a directory; give a file name")
    parent = p.absolute().parent
    if not parent.is_dir():
        raise ValueError(f"{option} {str(path)!r}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r}: the folder {str(parent)!r} is not writable")
