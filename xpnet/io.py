"""Saving and loading models as ``.npz``: arrays plus the architecture as JSON, no pickle.

Files are written to a temporary file beside the target and renamed into place, so an
interrupted save never leaves a truncated or half-written model behind; the new file gets the
mode of the file it replaces (or the umask's default for a new one), and a temporary file left
by a killed save is removed by the next save of the same file. Reading is bounded and checked
(:mod:`xpnet.npzfile`): a damaged or crafted file is one :class:`ValueError` naming it.
"""

from __future__ import annotations

import glob
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .npzfile import MAX_META, damaged, open_archive, read_member

FORMAT_VERSION = 2  # 2: the preprocessing and the run config beside the weights (1 still loads)
_META_KEY = "__xpnet_meta__"
MODEL_CONFIG_KEYS = ("layers", "activation", "output", "init", "dropout", "batch_norm", "dtype", "seed")


def _new_file_mode(path: Path) -> int:
    """The mode a saved file gets: the replaced file's, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = os.umask(0o022)  # read it (there is no other portable way), then put it back
    os.umask(umask)
    return 0o666 & ~umask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove ``.NAME.PID.*.tmp`` files beside ``path`` left by saves whose process has died."""
    for tmp in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        pid = os.path.basename(tmp)[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (JSON) to ``path`` atomically, with the mode a plain write would give."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    payload = dict(arrays)
    payload[_META_KEY] = np.array(json.dumps(meta))
    tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fchmod(f.fileno(), _new_file_mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _available_memory() -> int | None:
    from .tabular import available_memory

    return available_memory()


def read_npz(path: str | os.PathLike, check=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` from a file written by :func:`atomic_savez` (no pickle, bounded, checked).

    ``check(meta, shapes)`` (``shapes``: each array's declared shape and dtype) runs before any
    array is read, so a file whose header promises more than it holds is refused first.
    """
    path = Path(path)
    archive, members = open_archive(path, _available_memory())
    with archive:
        if _META_KEY not in members:
            raise damaged(path, f"it is not an xpnet file (no {_META_KEY} entry)")
        entry = members.pop(_META_KEY)
        if entry.dtype.kind != "U" or entry.shape != () or entry.info.file_size > MAX_META:
            raise damaged(path, f"its {_META_KEY} entry is not a JSON text")
        meta = _parse_meta(path, str(read_member(path, archive, entry)[()]))
        for m in members.values():
            if m.dtype.kind not in "biuf":
                raise damaged(path, f"array {m.name!r} has dtype {m.dtype}; only real numbers are allowed")
        if check is not None:
            check(meta, {name: (m.shape, m.dtype) for name, m in members.items()})
        arrays = {name: read_member(path, archive, m) for name, m in members.items()}
    return arrays, meta


def _parse_meta(path: Path, text: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise damaged(path, f"its metadata is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise damaged(path, f"its metadata is a JSON {type(meta).__name__}, not an object")
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise damaged(path, f"its format version is {version!r}, not an integer")
    return meta


def check_finite(path, arrays: dict[str, np.ndarray], prefixes: tuple[str, ...] = ("",)) -> None:
    """Refuse non-finite floating-point values in the arrays whose names start with ``prefixes``."""
    for name, value in arrays.items():
        if name.startswith(prefixes) and value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            raise damaged(path, f"array {name!r} holds {bad} NaN or infinite value(s) of {value.size}")


def parameter_bytes(layers, itemsize: int = 4) -> int:
    """Bytes of a dense network's weights and biases of widths ``layers`` (one copy)."""
    return sum((a + 1) * b for a, b in zip(layers, layers[1:], strict=False)) * itemsize


def _check_model_header(path: Path, meta: dict[str, Any], shapes: dict[str, tuple]) -> None:
    """The declared architecture against the arrays' headers, before any network is allocated."""
    if meta.get("format") != "xpnet.MLP":
        raise ValueError(f"{str(path)!r} holds {meta.get('format')!r}, not an xpnet.MLP")
    if meta["version"] > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} was written by a newer xpnet (format {meta['version']})")
    config = meta.get("config")
    if not isinstance(config, dict) or "layers" not in config:
        raise damaged(path, "its metadata has no network config with layers")
    unknown = sorted(set(config) - set(MODEL_CONFIG_KEYS))
    if unknown:
        raise damaged(path, f"its network config has unknown key(s) {', '.join(map(str, unknown))}")
    layers = config["layers"]
    if (
        not isinstance(layers, list)
        or len(layers) < 2
        or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in layers)
    ):
        raise damaged(path, f"its layers {layers!r} are not a list of at least two sizes >= 1")
    for i, (fan_in, fan_out) in enumerate(zip(layers, layers[1:], strict=False)):
        for key, want in ((f"dense{i}.weight", (fan_in, fan_out)), (f"dense{i}.bias", (fan_out,))):
            have = shapes.get(key, (None,))[0]
            if have != want:
                raise damaged(path, f"the layers {layers} need {key} of shape {want}; the file holds {have}")
    n_dense = sum(1 for k in shapes if k.startswith("dense") and k.endswith(".weight"))
    if n_dense != len(layers) - 1:
        raise damaged(
            path, f"the layers {layers} need {len(layers) - 1} dense layers; the file holds {n_dense}"
        )
    for key in ("preprocess/mean", "preprocess/scale"):
        if key in shapes and shapes[key][0] != (layers[0],):
            raise damaged(path, f"{key} has shape {shapes[key][0]}; the network takes {layers[0]} features")


def read_model(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """``(config, arrays, meta)`` of a model file written by :func:`save_model` (``meta``: the whole header).

    The declared layers are checked against the stored arrays' headers before anything is
    allocated; weights must be finite real numbers and the scaling positive.
    """
    path = Path(path)
    arrays, meta = read_npz(path, lambda meta, shapes: _check_model_header(path, meta, shapes))
    check_finite(path, arrays)
    scale = arrays.get("preprocess/scale")
    if scale is not None and not (scale > 0).all():
        raise damaged(path, "preprocess/scale holds values <= 0")
    _check_preprocess(path, meta.get("preprocess"), meta["config"]["layers"])
    return dict(meta["config"]), arrays, meta


def _check_preprocess(path: Path, pre: Any, layers: list[int]) -> None:
    """The labels and feature names of a model file's preprocessing: plain JSON values, the right counts."""
    if pre is None:
        return
    if not isinstance(pre, dict):
        raise damaged(path, "its preprocess entry is not an object")
    classes, names = pre.get("classes"), pre.get("feature_names")
    if classes is not None and (
        not isinstance(classes, list)
        or not all(isinstance(c, (str, int, float)) for c in classes)
        or len(classes) not in (layers[-1], 2 if layers[-1] == 1 else layers[-1])
    ):
        raise damaged(path, f"its class labels {classes!r:.80} do not match {layers[-1]} output(s)")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) != layers[0]
    ):
        raise damaged(path, f"its feature names {names!r:.80} do not match {layers[0]} input(s)")


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


def check_output_path(path: str | os.PathLike, option: str) -> None:
    """Fail now, not after training, when ``path`` cannot be written: a folder, or no writable parent folder."""
    p = Path(path)
    if str(path) == "":
        raise ValueError(f"{option} needs a file name")
    if p.is_dir() or str(path).endswith(("/", os.sep)):
        raise ValueError(f"{option} {str(path)!r} is a directory; give a file name")
    parent = p.absolute().parent
    for above in (parent, *parent.parents):
        if above.exists() and not above.is_dir():
            raise ValueError(f"{option} {str(path)!r}: {str(above)!r} is a file, not a folder")
    if not parent.is_dir():
        raise ValueError(f"{option} {str(path)!r}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r}: the folder {str(parent)!r} is not writable")


def check_output_dir(path: str | os.PathLike, option: str) -> None:
    """Fail now when the folder ``path`` can be neither used nor created (a file is in the way)."""
    p = Path(path).absolute()
    for above in (p, *p.parents):
        if above.exists():
            if not above.is_dir():
                raise ValueError(f"{option} {str(path)!r}: {str(above)!r} is a file, not a folder")
            if not os.access(above, os.W_OK | os.X_OK):
                raise ValueError(f"{option} {str(path)!r}: the folder {str(above)!r} is not writable")
            return
