"""Parquet with the view's typed schema: lists of strings for tags, structs for spans and turns,
timestamps as ``timestamp[us, UTC]``. Rows are written in row groups of a fixed count so the
same records always give the same bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.formats.writers.atomic import temp_path_for
from annotator.formats.writers.views import arrow_record

ROW_GROUP_ROWS = 2000
BUFFER_BYTES = 64 * 1024 * 1024
"""Rows are handed to pyarrow in slices of this size (rough text size) to keep memory flat."""


def _size(record: dict[str, Any]) -> int:
    return sum(len(v) for v in record.values() if isinstance(v, str))


class ParquetWriter:
    suffix = ".parquet"

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self.schema = schema
        self.temp = temp_path_for(path)
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            str(self.temp), schema, compression="zstd", write_statistics=True
        )
        self._buffer: list[dict[str, Any]] = []
        self._buffered = 0
        self._done = False

    def write(self, record: dict[str, Any]) -> None:
        row = arrow_record(record)
        self._buffer.append(row)
        self._buffered += _size(row)
        self.rows += 1
        if len(self._buffer) >= ROW_GROUP_ROWS or self._buffered >= BUFFER_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer or self._writer is None:
            return
        table = pa.Table.from_pylist(self._buffer, schema=self.schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self._buffer.clear()
        self._buffered = 0

    def commit(self) -> None:
        if self._done:
            return
        try:
            self._flush()
            assert self._writer is not None
            self._writer.close()
            self._writer = None
            with open(self.temp, "rb+") as f:
                os.fsync(f.fileno())
            self.temp.replace(self.path)
        except BaseException:
            self.abort()
            raise
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer.clear()
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        self.temp.unlink(missing_ok=True)
