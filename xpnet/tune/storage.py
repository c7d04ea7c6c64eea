"""Where studies live: Optuna storages by URL (memory, journal files, SQLite, PostgreSQL/MySQL)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def open_storage(url: str | None):
    """An Optuna storage for ``url``: None (in memory), ``journal:PATH`` or a ``.log`` path, or an RDB URL."""
    import optuna

    if url is None or url == "":
        return optuna.storages.InMemoryStorage()
    if not isinstance(url, str):
        raise TypeError(f"storage must be a URL string; got {type(url).__name__}")
    if url.startswith("journal:") or ("://" not in url and url.endswith(JOURNAL_SUFFIXES)):
        return _journal_storage(url.removeprefix("journal:"))
    if "://" not in url:
        raise ValueError(
            f"storage={url!r} is not understood; use sqlite:///study.db, postgresql://user@host/db, "
            "mysql+pymysql://..., journal:PATH or a PATH ending in .log"
        )
    return _rdb_storage(url)


def _journal_storage(path: str):
    """A journal file many processes may append to (file locks, no server)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not path:
        raise ValueError("storage='journal:' needs a file path, e.g. journal:study.log")
    return JournalStorage(JournalFileBackend(path))


def _rdb_storage(url: str):
    """An SQLAlchemy database with heartbeats, so a live worker fails the RUNNING trials of a killed one."""
    import optuna

    for attempt in range(3):  # fresh databases: concurrent workers may race to create the tables
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120)
        except ImportError as exc:
            raise ImportError(
                f'storage={url!r} needs its database driver ({exc}); for PostgreSQL: pip install "xpnet[postgres]"'
            ) from exc
        except Exception as exc:  # noqa: BLE001 - re-raised below with the URL
            if attempt == 2 or "duplicate" not in str(exc).lower():
                raise ValueError(f"storage={url!r} could not be opened: {exc}") from exc
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def temporary_journal() -> Iterator[str]:
    """A ``journal:`` URL in a fresh temporary directory, removed on exit (in-memory studies for workers)."""
    tmpdir = tempfile.mkdtemp(prefix="xpnet-tune-")
    try:
        yield f"journal:{os.path.join(tmpdir, 'study.log')}"
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def in_memory_copy(study):
    """An in-memory study holding ``study``'s trials (to keep results once a temporary storage is gone)."""
    import optuna

    copy = optuna.create_study(direction="maximize", study_name=study.study_name)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy
