"""JSON Lines: one record per line, keys sorted so the same data gives the same bytes (the full
view's turns are embedded as the store keeps them: compact JSON with a fixed key order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from annotator.formats.writers.atomic import AtomicFile
from annotator.formats.writers.rows import RawJson

JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
FLUSH_BYTES = 1 << 20


def _raw(value: Any) -> Any:
    if isinstance(value, RawJson):
        return orjson.Fragment(value.data)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps_line(record: dict[str, Any]) -> bytes:
    """One record as a JSON line: keys sorted, embedded JSON (the stored turns) as it is."""
    return orjson.dumps(record, default=_raw, option=JSON_OPTIONS)


class JsonlWriter:
    suffix = ".jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._file = AtomicFile(path)
        self._buffer: list[bytes] = []
        self._buffered = 0

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record, default=_raw, option=JSON_OPTIONS)
        self._buffer.append(line)
        self._buffered += len(line)
        self.rows += 1
        if self._buffered >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._file.write(b"".join(self._buffer))
        self._buffer.clear()
        self._buffered = 0

    def commit(self) -> None:
        try:
            self._flush()
        except BaseException:
            self._file.abort()
            raise
        self._file.commit()

    def abort(self) -> None:
        self._buffer.clear()
        self._file.abort()
