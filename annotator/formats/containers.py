"""Files to records: JSON Lines, JSON (object or array), gzip of either, Parquet, SWE-agent
``.traj`` and YAML cassettes.

Everything streams: a JSONL line or a JSON array element is held in memory only up to
``max_record_bytes``; a longer one is skipped in chunks and reported, never loaded. A bad record
becomes a :class:`RejectedRecord` (file, line, reason, the original bytes where they are small
enough to keep) and reading goes on; a file that cannot be read at all raises :class:`FormatError`.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from annotator.formats.base import RecordError, SourceRecord

DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024
"""The largest JSONL line or JSON array element that is parsed (64 MiB)."""
DEFAULT_MAX_DOCUMENT_BYTES = 1024 * 1024 * 1024
"""The largest single-object document (``.json`` object, ``.traj``): eval logs get big (1 GiB)."""

_CHUNK = 1024 * 1024
_JSONL = frozenset({".jsonl", ".ndjson"})
_JSON = frozenset({".json"})
_TRAJ = frozenset({".traj"})
_YAML = frozenset({".yaml", ".yml"})
_PARQUET = frozenset({".parquet"})
_INNER = _JSONL | _JSON | _TRAJ
SUFFIXES: tuple[str, ...] = tuple(
    sorted(_JSONL | _JSON | _TRAJ | _YAML | _PARQUET | {s + ".gz" for s in _INNER})
)
"""Every file name ending :func:`iter_records` reads."""


class FormatError(Exception):
    """A file that cannot be read at all (missing, unreadable, unknown kind, corrupt container)."""


class RejectedRecord(RecordError):
    """A :class:`RecordError` that keeps the record's original bytes for the reject file."""

    def __init__(
        self,
        reason: str,
        *,
        source_file: str,
        line: int,
        raw: bytes | None = None,
        field: str | None = None,
    ) -> None:
        self.raw = raw
        super().__init__(reason, field=field, line=line, source_file=source_file)


def container_kind(path: Path) -> str:
    """The container for ``path`` by its name: jsonl, json, traj, yaml, parquet (``.gz`` by the
    suffix inside it). Raises FormatError for anything else."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last == ".gz" and len(suffixes) >= 2 and suffixes[-2] in _INNER:
        last = suffixes[-2]
    for kind, names in (
        ("jsonl", _JSONL),
        ("json", _JSON),
        ("traj", _TRAJ),
        ("yaml", _YAML),
        ("parquet", _PARQUET),
    ):
        if last in names:
            return kind
    raise FormatError(
        f"{path}: unknown file type {''.join(path.suffixes) or '(no extension)'!r}; "
        f"readable: {', '.join(SUFFIXES)}"
    )


def iter_records(
    path: Path,
    *,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> Iterator[SourceRecord | RecordError]:
    """Yield each record of ``path`` in file order, or a :class:`RejectedRecord` in its place.

    The file's kind and readability are checked now (FormatError), the records read lazily.
    """
    kind = container_kind(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if kind == "yaml":
        return _yaml_records(path)
    if kind == "parquet":
        return _parquet_records(path)
    return _json_records(path, kind, max_record_bytes, max_document_bytes)


_READ_BUFFER = 1 << 18
"""Bytes read from disk at a time: ``readline`` of 10-50 KB records through the default 8 KB
buffer copied each line in pieces (3x slower, measured); 256 KiB is as fast as larger buffers."""


def _open(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return path.open("rb", buffering=_READ_BUFFER)


def _json_records(
    path: Path, kind: str, max_record: int, max_document: int
) -> Iterator[SourceRecord | RecordError]:
    name = str(path)
    try:
        with _open(path) as stream:
            if kind == "jsonl":
                yield from _jsonl(stream, name, max_record)
                return
            first = _peek_first_byte(stream)
            if first == b"[" and kind == "json":
                yield from _json_array(stream, name, max_record)
            elif kind == "json" and _first_line_is_json(stream, max_record):
                # A JSON Lines file named .json (or a one-line object: the same single record).
                yield from _jsonl(stream, name, max_record)
            else:
                yield _document(stream, name, max_document)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: cannot read ({exc})") from exc


def _peek_first_byte(stream: IO[bytes]) -> bytes:
    """The first non-whitespace byte (after a UTF-8 BOM); the stream is left at the start."""
    head = stream.read(4096)
    while head and not head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        more = stream.read(4096)
        if not more:
            break
        head = more
    stream.seek(0)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1]


def _first_line_is_json(stream: IO[bytes], max_record: int) -> bool:
    line = stream.readline(max_record + 1)
    stream.seek(0)
    if not line.endswith(b"\n") and len(line) > max_record:
        return False
    try:
        orjson.loads(_clean(line))
    except orjson.JSONDecodeError:
        return False
    return True


def _clean(line: bytes) -> bytes:
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line.rstrip(b"\r\n")


def _parse(raw: bytes, name: str, line: int, *, keep_raw: bool) -> SourceRecord | RecordError:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = _json_reason(raw, exc)
        return RejectedRecord(reason, source_file=name, line=line, raw=raw if keep_raw else None)
    if not isinstance(data, dict):
        return RejectedRecord(
            f"record is a JSON {_json_type(data)}, not an object",
            source_file=name,
            line=line,
            raw=raw if keep_raw else None,
        )
    return SourceRecord(data=data, source_file=name, line=line, raw=raw if keep_raw else None)


def _json_reason(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start}: {bad.reason}"
    return f"invalid JSON: {exc}"


def _json_type(data: Any) -> str:
    if isinstance(data, list):
        return "array"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if data is None:
        return "null"
    return "number"


def _oversize(name: str, line: int, size: int, limit: int, what: str) -> RejectedRecord:
    return RejectedRecord(
        f"{what} is {size} bytes, over the {limit}-byte limit; skipped without reading it",
        source_file=name,
        line=line,
    )


def _jsonl(stream: IO[bytes], name: str, max_record: int) -> Iterator[SourceRecord | RecordError]:
    number = 0
    while True:
        line = stream.readline(max_record + 1)
        if not line:
            return
        number += 1
        if len(line) > max_record and not line.endswith(b"\n"):
            size = len(line)
            while not line.endswith(b"\n"):
                line = stream.readline(_CHUNK)
                if not line:
                    break
                size += len(line)
            yield _oversize(name, number, size, max_record, "line")
            continue
        raw = _clean(line)
        if not raw or raw.isspace():
            continue
        yield _parse(raw, name, number, keep_raw=True)


def _document(stream: IO[bytes], name: str, max_document: int) -> SourceRecord | RecordError:
    """A whole-file JSON object, read in chunks so an oversize one is counted, never held."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size <= max_document:
            chunks.append(chunk)
        elif chunks:
            chunks = []
    if size > max_document:
        return _oversize(name, 1, size, max_document, "document")
    data = b"".join(chunks)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return _parse(data, name, 1, keep_raw=False)


_OUTSIDE = re.compile(rb'[^"\[\]{},]*')
_SPACE = b" \t\r\n"
_BACKSLASH = 0x5C


def _json_array(
    stream: IO[bytes], name: str, max_record: int
) -> Iterator[SourceRecord | RecordError]:
    """Stream the elements of a top-level JSON array, numbered from 1, without parsing the file.

    A scanner that tracks only strings and nesting finds where each element ends; orjson parses
    the element. At most ``max_record`` bytes of one element are held.
    """
    splitter = _ArraySplitter(name, max_record)
    while chunk := stream.read(_CHUNK):
        yield from splitter.feed(chunk)
    yield from splitter.finish()


class _ArraySplitter:
    def __init__(self, name: str, max_record: int) -> None:
        self.name = name
        self.max_record = max_record
        self.opened = False
        self.closed = False
        self.trailing_reported = False
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.in_element = False
        self.pieces: list[bytes] = []
        self.size = 0
        self.index = 0

    def feed(self, chunk: bytes) -> list[SourceRecord | RecordError]:
        out: list[SourceRecord | RecordError] = []
        i, n = 0, len(chunk)
        if not self.opened:
            at = chunk.find(b"[")
            if chunk[: at if at >= 0 else n].strip(b"\xef\xbb\xbf" + _SPACE):
                raise FormatError(f"{self.name}: not a JSON array")
            if at < 0:
                return out
            self.opened, self.depth, i = True, 1, at + 1
        start = 0  # where the current element's bytes begin in this chunk
        while i < n:
            if self.closed:
                if chunk[i:].strip(_SPACE) and not self.trailing_reported:
                    self.trailing_reported = True
                    out.append(
                        RejectedRecord(
                            "data after the closing ']' of the top-level array",
                            source_file=self.name,
                            line=self.index + 1,
                        )
                    )
                return out
            if self.in_string:
                if self.escape:
                    self.escape = False
                    i += 1
                    continue
                # memchr to the next quote; it closes the string unless an odd run of
                # backslashes (since ``i``, which never sits inside an escape) precedes it.
                quote = chunk.find(b'"', i)
                end = n if quote < 0 else quote
                run = end
                while run > i and chunk[run - 1] == _BACKSLASH:
                    run -= 1
                odd = (end - run) % 2 == 1
                if quote < 0:
                    self.escape = odd
                    break
                i = quote + 1
                self.in_string = odd
                continue
            if self.depth == 1 and not self.in_element:
                while i < n and chunk[i] in _SPACE:
                    i += 1
                if i >= n:
                    break
                char = chunk[i : i + 1]
                if char == b"]":
                    self.closed = True
                    i += 1
                    continue
                if char == b",":
                    i += 1
                    continue
                self.in_element, start, self.pieces, self.size = True, i, [], 0
            match = _OUTSIDE.match(chunk, i)
            i = match.end() if match else i
            if i >= n:
                break
            char = chunk[i : i + 1]
            i += 1
            if char == b'"':
                self.in_string = True
            elif char in (b"[", b"{"):
                self.depth += 1
            elif char in (b"]", b"}"):
                self.depth -= 1
                if self.depth == 0:
                    out.append(self._emit(chunk[start : i - 1]))
                    self.closed = True
            elif char == b"," and self.depth == 1:
                out.append(self._emit(chunk[start : i - 1]))
        if self.in_element:
            self._keep(chunk[start:])
        return out

    def _keep(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.max_record:
            self.pieces = []
        else:
            self.pieces.append(piece)

    def _emit(self, piece: bytes) -> SourceRecord | RecordError:
        self._keep(piece)
        self.in_element = False
        self.index += 1
        if self.size > self.max_record:
            return _oversize(self.name, self.index, self.size, self.max_record, "array element")
        raw = b"".join(self.pieces).strip(_SPACE)
        self.pieces = []
        return _parse(raw, self.name, self.index, keep_raw=True)

    def finish(self) -> list[SourceRecord | RecordError]:
        if not self.opened:
            raise FormatError(f"{self.name}: not a JSON array")
        if self.closed:
            return []
        return [
            RejectedRecord(
                "file ends inside the top-level array (truncated file?)",
                source_file=self.name,
                line=self.index + 1,
            )
        ]


def _parquet_records(path: Path) -> Iterator[SourceRecord | RecordError]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = str(path)
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise FormatError(f"{path}: not a readable Parquet file ({exc})") from exc
    with file:
        row = 0
        try:
            for batch in file.iter_batches(batch_size=1024):
                for data in batch.to_pylist():
                    row += 1
                    yield SourceRecord(data=data, source_file=name, line=row)
        except (OSError, pa.ArrowException) as exc:
            raise FormatError(f"{path}: cannot read Parquet row {row + 1} ({exc})") from exc


def _yaml_records(path: Path) -> Iterator[SourceRecord | RecordError]:
    from annotator.formats.cassette import iter_cassette_records

    try:
        yield from iter_cassette_records(path)
    except RecordError as exc:  # raised for the file as a whole: not YAML, not a cassette
        raise FormatError(f"{path}: {exc.reason}") from exc
