"""Snapshot files of label tables (:mod:`annotator.services.label_table`), so that a new process
(the dashboard opened again tomorrow) starts from yesterday's arrays plus the labels changed
since, instead of reading and parsing every label row again (seconds at a million labels).

A snapshot is one file: a JSON header (metadata, array layout, a CRC-32 of the data, checked on
read, so a damaged file is refused, never read as numbers) and the arrays' raw bytes, read in one
call (a zip of ``.npy`` members, as ``np.savez`` writes, read 2-10x slower, in Python-level
chunks that compete with the GUI thread for the GIL).
It names the database it came from by a random identity kept in ``app_state`` (created the
first time a snapshot is written), the project, the database schema generation (Alembic
revision) and the snapshot format; the caller checks them and the fingerprint against the
database before using the arrays, and falls back to a full read on any mismatch.

Writes are atomic (a temporary file in the same directory, then ``os.replace``): a reader sees
the old file or the new one, never half of one. This module knows nothing about Qt or where the
cache directory is: the GUI and the CLI pass it in.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import uuid
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from annotator.store.database import Database
from annotator.store.models import AppState

if TYPE_CHECKING:  # numpy loads when a snapshot is read or written, not when one is configured
    import numpy as np

FORMAT = 1
"""Bumped whenever the arrays or their meaning change: older files are then ignored."""
IDENTITY_KEY = "database_identity"
"""``app_state`` key of the database's random identity."""
_MAGIC = b"trace-annotator snapshot\n"
_DIRECTORY: list[Path] = []
"""The snapshot directory (at most one entry; empty: snapshots off, the default)."""


def use_snapshots(directory: Path | None) -> None:
    """Keep label tables in snapshot files under ``directory`` (None: not at all). Set once by
    the GUI or the CLI from :class:`annotator.paths.Paths` (cheap: any command that opens the
    database calls it); services never pick a location."""
    _DIRECTORY[:] = [directory] if directory is not None else []


def snapshot_dir() -> Path | None:
    return _DIRECTORY[0] if _DIRECTORY else None


def read_identity(connection: Connection) -> str | None:
    """The database's identity, or None before the first snapshot was written (read-only: a
    reader inside a transaction must not write)."""
    value = connection.execute(
        select(AppState.value).where(AppState.key == IDENTITY_KEY)
    ).scalar_one_or_none()
    return str(value) if value else None


def ensure_identity(db: Database) -> str:
    """The database's identity, created on first need (a race between two writers keeps the
    first one: insert-or-ignore, then read)."""
    with db.session() as session:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(AppState)
            .values(key=IDENTITY_KEY, value=uuid.uuid4().hex)
            .on_conflict_do_nothing(index_elements=[AppState.key])
        )
        value = read_identity(session.connection())
    assert value is not None
    return value


def schema_generation(connection: Connection) -> str:
    """The Alembic revision of the database ('' when it has none, e.g. a test schema)."""
    if not inspect(connection).has_table("alembic_version"):
        return ""
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value or "")


def snapshot_path(directory: Path, identity: str, project_id: int, kind: str = "labels") -> Path:
    return directory / f"{kind}-{identity}-{project_id}.snapshot"


def compact(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Integers in the smallest signed type that holds them (a status code needs one byte, not
    eight): the file is a third of the size and reads that much faster."""
    import numpy as np

    if values.dtype.kind != "i" or values.size == 0:
        return values
    low, high = int(values.min()), int(values.max())
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype, copy=False)
    return values


def write_arrays(
    path: Path, arrays: Mapping[str, np.ndarray[Any, Any]], meta: Mapping[str, Any]
) -> None:
    """Write ``arrays`` and ``meta`` (JSON-able) to ``path`` atomically: the magic line, the
    header's length (8 bytes, little-endian), the JSON header (metadata, each array's dtype,
    shape and offset, the CRC-32 of the data) and the arrays' bytes, each at an 8-byte offset."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    members = {name: np.ascontiguousarray(compact(values)) for name, values in arrays.items()}
    specs, offset, crc = [], 0, 0
    for name, values in members.items():
        specs.append([name, values.dtype.str, list(values.shape), offset])
        crc = zlib.crc32(_padded(values), crc)
        offset += values.nbytes + _padding(values.nbytes)
    header = orjson.dumps({"meta": dict(meta), "arrays": specs, "crc32": crc, "format": FORMAT})
    fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC)
            handle.write(len(header).to_bytes(8, "little"))
            handle.write(header)
            handle.write(b"\0" * _padding(len(_MAGIC) + 8 + len(header)))
            for values in members.values():
                handle.write(_padded(values))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _padding(size: int) -> int:
    return -size % 8


def _padded(values: np.ndarray[Any, Any]) -> bytes:
    return values.tobytes() + b"\0" * _padding(values.nbytes)


def read_meta(path: Path) -> dict[str, Any] | None:
    """The metadata of a snapshot of the current format, from its header alone (the arrays
    are neither read nor checked: :func:`read_arrays` does that); None when the file is
    missing, unreadable or of another format."""
    try:
        with path.open("rb") as handle:
            start = handle.read(len(_MAGIC) + 8)
            if len(start) < len(_MAGIC) + 8 or start[: len(_MAGIC)] != _MAGIC:
                return None
            header = orjson.loads(handle.read(int.from_bytes(start[len(_MAGIC) :], "little")))
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    meta = header.get("meta")
    return meta if isinstance(meta, dict) else None


def read_arrays(
    path: Path,
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, Any]] | None:
    """The arrays and metadata of a snapshot of the current format; None when the file is
    missing, unreadable, damaged (wrong CRC, short) or of another format. The file is mapped,
    not read into a buffer (a third fewer fresh pages); integer arrays come back as int64."""
    import numpy as np

    try:
        with (
            path.open("rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as raw,
        ):
            return _decode(raw, np)
    except (OSError, ValueError, BufferError):  # unreadable, or empty (nothing to map)
        return None


def _decode(raw: mmap.mmap, np: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The arrays, copied out of the mapping (it closes after this), and the metadata."""
    if len(raw) < len(_MAGIC) + 8 or raw[: len(_MAGIC)] != _MAGIC:
        return None
    size = int.from_bytes(raw[len(_MAGIC) : len(_MAGIC) + 8], "little")
    start = len(_MAGIC) + 8
    try:
        header = orjson.loads(raw[start : start + size])
        data = start + size + _padding(start + size)
        with memoryview(raw) as whole, whole[data:] as body:
            if header["format"] != FORMAT or zlib.crc32(body) != header["crc32"]:
                return None
        arrays: dict[str, Any] = {}
        for name, dtype, shape, offset in header["arrays"]:
            kind = np.dtype(dtype)
            if kind.hasobject:
                return None
            view = np.frombuffer(raw, dtype=kind, count=int(np.prod(shape)), offset=data + offset)
            arrays[str(name)] = (
                view.astype(np.int64) if kind.kind == "i" else view.copy()
            ).reshape(shape)
            del view  # the mapping closes only when no array looks into it
        meta = header["meta"]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    return arrays, meta
