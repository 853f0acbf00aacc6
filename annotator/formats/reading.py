"""One file to traces, record by record: the container gives records, a reader (detected per
record, or forced with ``format=``) turns each into traces.

Nothing a single record does stops the file: every failure, including an unexpected exception in
a reader, comes back as a :class:`RejectedRecord` with file, line, reason and the original bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from annotator.domain.trace import Trace
from annotator.formats.base import Reader, RecordError, SourceRecord
from annotator.formats.containers import (
    DEFAULT_MAX_RECORD_BYTES,
    FormatError,
    RejectedRecord,
    iter_records,
)
from annotator.formats.registry import detect_reader, get_reader, reader_names

ReadItem = tuple[SourceRecord, list[Trace]] | RecordError
"""A record and its traces, or the error in its place (always a :class:`RejectedRecord`)."""


def resolve_format(format: str | None) -> Reader | None:
    """The reader forced by ``--format``; FormatError naming the known formats if there is none."""
    if format is None:
        return None
    try:
        return get_reader(format)
    except KeyError:
        known = ", ".join(reader_names()) or "(none registered)"
        raise FormatError(f"unknown format {format!r}; known formats: {known}") from None


def read_file(
    path: Path,
    *,
    format: str | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[ReadItem]:
    """Yield ``(record, traces)`` or a RejectedRecord for each record of ``path``, in file order.

    A bad ``format`` name or an unreadable file raises FormatError now, before any record is read.
    """
    forced = resolve_format(format)
    records = iter_records(path, max_record_bytes=max_record_bytes)
    return _read(records, forced)


def _read(
    records: Iterator[SourceRecord | RecordError], forced: Reader | None
) -> Iterator[ReadItem]:
    for item in records:
        if isinstance(item, RecordError):
            yield item
        else:
            yield read_record(item, forced)


def read_record(record: SourceRecord, reader: Reader | None = None) -> ReadItem:
    """Turn one record into traces with ``reader`` (or the detected one); never raises for the
    record's content, only for BaseExceptions such as KeyboardInterrupt."""
    chosen: Reader | None = reader
    try:
        if chosen is None:
            chosen = detect_reader(record.data)
        traces = chosen.read(record)
    except RecordError as exc:
        return _reject(record, exc.reason, field=exc.field)
    except Exception as exc:  # a reader bug or an unforeseen shape: report it, keep importing
        name = chosen.name if chosen is not None else "format detection"
        return _reject(record, f"{name} reader failed: {type(exc).__name__}: {exc}")
    if not traces:
        return _reject(record, f"the {chosen.name} reader found no trace in this record")
    return record, traces


def _reject(record: SourceRecord, reason: str, *, field: str | None = None) -> RejectedRecord:
    return RejectedRecord(
        reason, source_file=record.source_file, line=record.line, raw=record.raw, field=field
    )
