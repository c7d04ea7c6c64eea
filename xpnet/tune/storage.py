"""Where studies live: Optuna storages by URL (memory, journal files, SQLite, PostgreSQL/MySQL)."""

from __future__ import annotations

import contextlib
import logging
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
    if os.path.isdir(path):
        raise ValueError(f"storage='journal:{path}' is a directory; give a file path")
    repair_journal(path)
    return JournalStorage(JournalFileBackend(path))


def repair_journal(path: str) -> int:
    """Cut a torn last record (a writer killed mid-append) off the journal at ``path``; bytes removed.

    Optuna skips a torn last line when reading, but appends the next record after it, which
    makes the file unreadable; cutting it under the journal's own lock keeps the study readable.
    """
    from optuna.storages.journal import JournalFileSymlinkLock
    from optuna.storages.journal._file import get_lock_file

    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return 0
    with get_lock_file(JournalFileSymlinkLock(path)), open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        block = 1 << 16
        end = size
        while end > 0:  # find the last newline, reading backwards
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    logging.getLogger(__name__).warning(
        "journal %r: removed a torn last record (%d bytes) left by a killed writer", path, size - keep
    )
    return size - keep


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
                f'storage={url!r} needs its database driver ({exc}); for PostgreSQL: pip install "xpnet[postgres]" '
                "(psycopg 3, which SQLAlchemy 2.1 uses for postgresql://; postgresql+psycopg2:// picks psycopg2)"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - re-raised below with the URL
            if attempt == 2 or "duplicate" not in str(exc).lower():
                raise ValueError(f"storage={url!r} could not be opened: {exc}") from exc
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class TemporaryJournal(str):
    """A ``journal:`` URL in a fresh temporary directory; :attr:`keep` saves it from removal."""

    path: str
    keep: bool = False


@contextlib.contextmanager
def temporary_journal() -> Iterator[TemporaryJournal]:
    """A ``journal:`` URL in a fresh temporary directory, removed on exit unless marked ``keep``."""
    tmpdir = tempfile.mkdtemp(prefix="xpnet-tune-")
    url = TemporaryJournal(f"journal:{os.path.join(tmpdir, 'study.log')}")
    url.path = url.removeprefix("journal:")
    try:
        yield url
    finally:
        if not url.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)


def in_memory_copy(study):
    """An in-memory study holding ``study``'s trials (to keep results once a temporary storage is gone)."""
    import optuna

    copy = optuna.create_study(direction="maximize", study_name=study.study_name)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy
