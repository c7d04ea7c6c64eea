"""Reading your own data: CSV (with a header), ``.npz``/``.npy`` and Parquet (with pyarrow).

:func:`load_file` returns a :class:`Table`: float64 features, the target encoded for training
(class indices, or float64 values for regression), the class labels, the feature names and
the task, inferred from the target unless given.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .preprocess import TASKS

MAX_CLASSES = 20  # an integer target with more distinct values than this is taken as regression
CSV_MEMORY_FACTOR = 8  # parsed CSV text takes up to this many times the file's size in memory


@dataclass
class Table:
    """Features ``X`` (float64), target ``y`` (int64 class indices or float64), and what they mean."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    classes: list | None
    task: str
    target: str | None

    @property
    def n_classes(self) -> int:
        return 1 if self.classes is None else len(self.classes)


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(path: Path, needed: int) -> None:
    """Refuse, before reading, a file whose loaded form would not fit in available memory."""
    free = available_memory()
    if free is not None and needed > free:
        raise MemoryError(
            f"{str(path)!r} needs about {needed / 2**20:,.0f} MiB to load but only "
            f"{free / 2**20:,.0f} MiB of memory is available; use a sample of the file or a larger machine"
        )


def load_file(
    path,
    target: str | int | None = None,
    task: str | None = None,
    require_target: bool = True,
    features: list[str] | None = None,
):
    """Read ``path`` (``.csv``, ``.npz``, ``.npy``, ``.parquet``) as a :class:`Table`.

    ``target`` names the target column (or its index); by default the last column (``y`` in an
    ``.npz`` of ``X`` and ``y``). ``task`` is ``"classification"`` or ``"regression"``; by default
    a target of strings, or of at most 20 distinct integers, is a classification target.
    ``require_target=False`` reads features only (every column); ``features`` names the columns
    to read as features, in that order (other columns are ignored, and no target is read).
    """
    path = Path(path)
    if task is not None and task not in TASKS:
        raise ValueError(f"task={task!r} must be one of {', '.join(TASKS)}")
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {str(path)!r}")
    suffix = path.suffix.lower()
    readers = {".csv": _read_csv, ".npy": _read_npy, ".npz": _read_npz, ".parquet": _read_parquet}
    if suffix not in readers:
        raise ValueError(f"{str(path)!r}: unknown data format {suffix!r}; use .csv, .npz, .npy or .parquet")
    names, columns = readers[suffix](path)
    if features is not None:
        missing = [n for n in features if n not in names]
        if missing:
            raise ValueError(f"{str(path)!r} lacks the feature column(s) {', '.join(missing)}")
        cols = [columns[names.index(n)] for n in features]
        X = np.stack([_numbers(c, path, n) for c, n in zip(cols, features, strict=True)], axis=1)
        return Table(X, None, list(features), None, task or "classification", None)
    return _table(path, names, columns, target, task, require_target)


def _read_csv(path: Path):
    check_fits_in_memory(path, path.stat().st_size * CSV_MEMORY_FACTOR)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{str(path)!r} is empty; expected a header row and data rows")
    names = [n.strip() for n in rows[0]]
    numbered = [(k + 1, r) for k, r in enumerate(rows) if k > 0 and r]  # (line number, cells)
    for line, row in numbered:
        if len(row) != len(names):
            raise ValueError(
                f"{str(path)!r}: row {line} has {len(row)} cells; the header has {len(names)} columns"
            )
    if not numbered:
        raise ValueError(f"{str(path)!r} has a header but no data rows")
    cells = np.array([r for _, r in numbered], dtype=str)
    lines = [line for line, _ in numbered]
    return names, [_Text(cells[:, j], path, name, lines) for j, name in enumerate(names)]


class _Text:
    """A CSV column of strings; converted to numbers on demand, naming the first bad cell."""

    def __init__(self, values, path, name, lines):
        self.values, self.path, self.name, self.lines = values, path, name, lines

    def numbers(self) -> np.ndarray:
        try:
            return self.values.astype(np.float64)
        except ValueError:
            pass
        for i, cell in enumerate(self.values):
            try:
                float(cell)
            except ValueError:
                what = "an empty cell" if not cell.strip() else repr(str(cell))
                raise ValueError(
                    f"{str(self.path)!r}: row {self.lines[i]}, column {self.name!r}: {what} is not a number "
                    "(features must be numeric; fill or drop missing values)"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover


def _read_npy(path: Path):
    check_fits_in_memory(path, path.stat().st_size * 2)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # not a .npy, truncated, or objects (no pickle, ever)
        detail = "it holds Python objects" if "pickle" in str(exc) else str(exc)
        raise ValueError(f"{str(path)!r} is not a readable .npy array: {detail}") from None
    if data.ndim != 2:
        raise ValueError(f"{str(path)!r} holds an array of shape {data.shape}; expected 2-D (rows, columns)")
    return [f"x{j}" for j in range(data.shape[1])], [data[:, j] for j in range(data.shape[1])]


def _read_npz(path: Path):
    from .npzfile import open_archive, read_member

    archive, members = open_archive(path, available_memory())  # bounded; damaged files: one ValueError
    with archive:
        if "X" not in members:
            raise ValueError(f"{str(path)!r} has no array 'X' (it holds {', '.join(members)})")
        X = read_member(path, archive, members["X"])
        y = read_member(path, archive, members["y"]) if "y" in members else None
    if X.ndim != 2:
        raise ValueError(f"{str(path)!r}: X has shape {X.shape}; expected 2-D")
    names, columns = [f"x{j}" for j in range(X.shape[1])], [X[:, j] for j in range(X.shape[1])]
    if y is not None:
        names, columns = [*names, "y"], [*columns, y]
    return names, columns


def _read_parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from None
    check_fits_in_memory(path, path.stat().st_size * CSV_MEMORY_FACTOR)
    table = pq.read_table(path)
    return list(table.column_names), [
        table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names
    ]


def _numbers(column, path, name) -> np.ndarray:
    if isinstance(column, _Text):
        return column.numbers()
    try:
        return np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{str(path)!r}: column {name!r} is not numeric") from None


def _target_index(names, target, path) -> int:
    if target is None:
        return len(names) - 1
    if isinstance(target, int) and not isinstance(target, bool):
        if not -len(names) <= target < len(names):
            raise ValueError(f"target={target} is out of range for {len(names)} columns")
        return target % len(names)
    if target not in names:
        raise ValueError(f"target={target!r} is not a column of {str(path)!r} (columns: {', '.join(names)})")
    return names.index(target)


def _table(path, names, columns, target, task, require_target) -> Table:
    t = _target_index(names, target, path) if (require_target or target is not None) else None
    features = [j for j in range(len(names)) if j != t]
    if not features:
        raise ValueError(f"{str(path)!r} has no feature columns besides the target")
    X = np.stack([_numbers(columns[j], path, names[j]) for j in features], axis=1)
    if t is None:
        return Table(X, None, [names[j] for j in features], None, task or "classification", None)
    y, classes, task = encode_target(columns[t], task)
    return Table(X, y, [names[j] for j in features], classes, task, names[t])


def encode_target(column, task: str | None):
    """``(y, classes, task)``: class indices and labels, or float64 values for regression."""
    raw = column.values if isinstance(column, _Text) else np.asarray(column)
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        values = None
    if task is None:
        integral = (
            values is not None
            and bool(np.all(np.isfinite(values)))
            and bool(np.all(values == np.round(values)))
        )
        many = values is not None and len(np.unique(values)) > MAX_CLASSES
        task = "classification" if values is None or (integral and not many) else "regression"
    if task == "regression":
        if values is None:
            raise ValueError("task='regression' needs a numeric target")
        return values, None, task
    labels = (
        raw if values is None else values.astype(np.int64) if np.all(values == np.round(values)) else values
    )
    classes, y = np.unique(labels, return_inverse=True)
    return y.astype(np.int64).reshape(-1), [c.item() if hasattr(c, "item") else c for c in classes], task
