"""Reading xpnet's ``.npz`` files safely: no pickle, bounded memory, one clear error per damaged file.

A file is read as a zip archive of ``.npy`` members. Before any array is decompressed, every
member's declared size is checked against a limit (a member may not expand to more than
:data:`MAX_RATIO` times its compressed size, nor all of them together to more than the memory
available), and every member's ``.npy`` header is parsed (from the first bytes of the member
only) and checked: a plain real or boolean dtype (no objects, no complex numbers, no structured
records), a shape whose bytes are exactly the member's declared size. A caller can then compare
the declared shapes with what the file claims to hold (:func:`xpnet.io.read_model` does, before a
network is allocated) and read the arrays, each read into a buffer of its declared size.

Every failure is a :class:`ValueError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import math
import os
import struct
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_RATIO = 100  # a compressed member may expand to at most this many times its stored size
MAX_HEADER = 10_000  # bytes of a .npy header (NumPy's own default limit)
MAX_META = 256 * 2**20  # bytes of the JSON metadata member
NPY_MAGIC = b"\x93NUMPY"
ALLOWED_KINDS = "biuf"  # bool, signed and unsigned integers, real floating point
# what zipfile and numpy's header parser raise on damaged bytes (a flipped "version needed" byte:
# NotImplementedError; a flipped flag: RuntimeError about encryption; struct.error, EOFError, ...)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    SyntaxError,
    tokenize.TokenError,
    TypeError,
    RecursionError,
    OverflowError,
    MemoryError,
)


@dataclass(frozen=True)
class Member:
    """One ``.npy`` member of an archive: its name (without ``.npy``), zip entry, shape and dtype."""

    name: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool


def damaged(path, what: str) -> ValueError:
    """The one error for an unreadable file: ``'<path>' is not a readable xpnet file: <what>``."""
    return ValueError(f"{str(path)!r} is not a readable xpnet file: {what}")


def open_archive(path: str | os.PathLike, memory: int | None) -> tuple[zipfile.ZipFile, dict[str, Member]]:
    """The open archive at ``path`` and its members' headers, checked; nothing decompressed beyond headers.

    ``memory`` bounds the total declared size of the members (None: no bound besides the ratio).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    with open(path, "rb") as f:
        start = f.read(len(NPY_MAGIC))
    if not start:
        raise damaged(path, "the file is empty")
    if start == NPY_MAGIC:
        raise damaged(path, "it is a single .npy array, not an .npz archive of a model or checkpoint")
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise damaged(path, f"not a zip archive, or truncated ({exc})") from None
    try:
        return archive, _members(path, archive, memory)
    except BaseException:
        archive.close()
        raise


def _members(path: Path, archive: zipfile.ZipFile, memory: int | None) -> dict[str, Member]:
    members: dict[str, Member] = {}
    total = 0
    for info in archive.infolist():
        if not info.filename.endswith(".npy") or info.filename[:-4] in members:
            raise damaged(path, f"unexpected archive entry {info.filename!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise damaged(path, f"entry {info.filename!r} uses an unsupported compression")
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > MAX_RATIO * info.compress_size + 4096
        ):
            raise damaged(
                path,
                f"entry {info.filename!r} would expand {info.compress_size:,} bytes to {info.file_size:,} "
                f"(more than {MAX_RATIO} times; a decompression bomb?)",
            )
        total += info.file_size
        if memory is not None and total > memory:
            raise damaged(
                path,
                f"its arrays would take {total / 2**20:,.0f} MiB or more, more than the "
                f"{memory / 2**20:,.0f} MiB of memory available",
            )
        members[info.filename[:-4]] = _header(path, archive, info)
    return members


def _header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    """Parse one member's ``.npy`` header (reading only its first bytes) and check it against its size."""
    name = info.filename[:-4]
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read[version](f, max_header_size=MAX_HEADER)
            offset = f.tell()
    except ZIP_ERRORS as exc:
        raise damaged(path, f"array {name!r} has a damaged header ({type(exc).__name__}: {exc})") from None
    if dtype.kind not in ALLOWED_KINDS + "U" or dtype.fields is not None or dtype.subdtype is not None:
        raise damaged(path, f"array {name!r} has dtype {dtype}; only real numbers are allowed")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise damaged(path, f"array {name!r} declares the shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise damaged(
            path,
            f"array {name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) but its entry holds "
            f"{info.file_size - offset:,} bytes",
        )
    return Member(name, info, tuple(shape), dtype, bool(fortran))


def read_member(path, archive: zipfile.ZipFile, member: Member) -> np.ndarray:
    """The array of ``member`` (already checked by :func:`open_archive`), read into its declared size."""
    count = math.prod(member.shape)
    out = np.empty(count, dtype=member.dtype)
    try:
        with archive.open(member.info) as f:
            f.seek(member.info.file_size - out.nbytes)
            got = f.readinto(out.view(np.uint8)) if out.nbytes else 0
    except ZIP_ERRORS as exc:
        raise damaged(path, f"array {member.name!r} cannot be read ({exc})") from None
    if got != out.nbytes:
        raise damaged(path, f"array {member.name!r} is truncated ({got:,} of {out.nbytes:,} bytes)")
    return out.reshape(member.shape, order="F" if member.fortran else "C")
