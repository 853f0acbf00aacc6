"""What every reader shares: the record it is given, the error it raises, the protocol it follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from annotator.domain.trace import Trace


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One parsed record and where it came from (``line`` is 1-based; for JSON arrays and Parquet
    it is the 1-based element or row number)."""

    data: Any
    source_file: str
    line: int
    raw: bytes | None = None
    """The record's bytes as they stood in the file, where the container has them (JSONL lines)."""


class RecordError(ValueError):
    """A record that cannot be read. The importer reports it with file and line and moves on."""

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        line: int | None = None,
        source_file: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.line = line
        self.source_file = source_file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.source_file, self.line) if p is not None)
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{': ' if where else ''}{self.reason}{field}"


class Reader(Protocol):
    """A format family. ``detect`` must be cheap (key checks only); ``read`` may raise RecordError."""

    name: str

    def detect(self, data: Any) -> bool: ...

    def read(self, record: SourceRecord) -> list[Trace]: ...
