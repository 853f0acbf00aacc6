"""CSV: one flat row per trace, columns from the view's arrow schema (nested structs become
dotted columns, lists of strings ``;``-joined, anything deeper JSON text).

Trace text is adversarial: a cell that a spreadsheet would evaluate (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) gets a leading apostrophe, as OWASP recommends.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from annotator.formats.writers.atomic import AtomicFile
from annotator.formats.writers.rows import RawJson
from annotator.formats.writers.views import arrow_record

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet shows rather than runs."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _columns(fields: list[pa.Field], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for f in fields:
        path = (*prefix, f.name)
        if pa.types.is_struct(f.type):
            out.extend(_columns(list(f.type), path))
        else:
            out.append(path)
    return out


def csv_columns(schema: pa.Schema) -> list[str]:
    return [".".join(p) for p in _columns(list(schema))]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, RawJson):
        return value.data.decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class CsvWriter:
    suffix = ".csv"

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._paths = _columns(list(schema))
        self._file = AtomicFile(path)
        self._text = io.TextIOWrapper(
            self._file.file, encoding="utf-8", newline="", write_through=False
        )
        self._csv = csv.writer(self._text, lineterminator="\r\n")
        self._csv.writerow([".".join(p) for p in self._paths])

    def write(self, record: dict[str, Any]) -> None:
        flat = arrow_record(record, expand_turns=False, typed_labels=False)
        cells = []
        for path in self._paths:
            value = flat.get(path[0]) if len(path) == 1 else _get(flat, path)
            cell = value if type(value) is str else _cell(value)
            cells.append("'" + cell if cell.startswith(FORMULA_STARTS) else cell)
        self._csv.writerow(cells)
        self.rows += 1

    def commit(self) -> None:
        try:
            self._text.flush()
            self._text.detach()  # the AtomicFile closes (and renames) the file itself
        except BaseException:
            self._file.abort()
            raise
        self._file.commit()

    def abort(self) -> None:
        with contextlib.suppress(ValueError):  # already detached
            self._text.detach()
        self._file.abort()
