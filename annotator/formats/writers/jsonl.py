"""JSON Lines: one record per line, keys sorted so the same data gives the same bytes (the full
view's turns are embedded as the store keeps them: compact JSON with a fixed key order)."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from annotator.formats.writers.atomic import AtomicFile
from annotator.formats.writers.rows import RawJson

JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
ANY_KEYS_OPTIONS = JSON_OPTIONS | orjson.OPT_NON_STR_KEYS
"""For the rare record with a non-string key. orjson is ~40% slower on every record with
OPT_NON_STR_KEYS set, and writes the same bytes without it when all keys are strings, so it is
only the retry (orjson refuses a non-string key rather than writing something else)."""
FLUSH_BYTES = 1 << 20


def _raw(value: Any) -> Any:
    if isinstance(value, RawJson):
        return orjson.Fragment(value.data)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps_line(record: dict[str, Any]) -> bytes:
    """One record as a JSON line: keys sorted, embedded JSON (the stored turns) as it is."""
    try:
        return orjson.dumps(record, default=_raw, option=JSON_OPTIONS)
    except TypeError:
        return orjson.dumps(record, default=_raw, option=ANY_KEYS_OPTIONS)


class JsonlWriter:
    """Lines are gathered into ~1 MB blocks; each block is written and hashed on a helper thread
    (both release the GIL) while the next one is built, one block in flight at a time. The
    sha256 of the file is ready at commit (:attr:`sha256`), so it is not read back."""

    suffix = ".jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.sha256: str | None = None
        """Hex digest of the committed file."""
        self._file = AtomicFile(path)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._digest = hashlib.sha256()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonl-writer")
        self._pending: Future[None] | None = None

    def write(self, record: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(record, default=_raw, option=JSON_OPTIONS)
        except TypeError:  # a non-string key somewhere (see ANY_KEYS_OPTIONS)
            line = orjson.dumps(record, default=_raw, option=ANY_KEYS_OPTIONS)
        self._buffer.append(line)
        self._buffered += len(line)
        self.rows += 1
        if self._buffered >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        block = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        self._wait()
        self._pending = self._io.submit(self._put, block)

    def _put(self, block: bytes) -> None:
        self._file.write(block)
        self._digest.update(block)

    def _wait(self) -> None:
        """Until the block in flight is written; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def commit(self) -> None:
        try:
            self._flush()
            self._wait()
        except BaseException:
            self.abort()
            raise
        finally:
            self._io.shutdown()
        self._file.commit()
        self.sha256 = self._digest.hexdigest()

    def abort(self) -> None:
        self._buffer.clear()
        self._io.shutdown(cancel_futures=True)  # waits for a block being written
        self._pending = None
        self._file.abort()
