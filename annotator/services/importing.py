"""Import files of traces into a project: streaming, batched, restartable, honest about what it
did.

Each file gets an ``import_batches`` row that always matches the committed traces (counts are
updated in the same transaction as each chunk). A record that cannot be read goes to a reject
file (JSONL: file, line, reason, field, record) and the rest of the file is imported. With
``strict`` the whole run is one transaction, rolled back at the first bad record. Ctrl+C or
``cancel`` keeps every committed chunk, drops the one in hand and marks the batch ``cancelled``.
Labels exported by this app (``meta.extra["annotator_labels"]``) come back as label rows.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Insert, Table, insert, select, update

from annotator.domain.label import Label, LabelStatus
from annotator.domain.trace import Trace
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.containers import SUFFIXES, FormatError, RejectedRecord
from annotator.formats.reading import read_file, resolve_format
from annotator.paths import resolve_paths
from annotator.services.projects import get_project
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    Annotator,
    ImportBatch,
    LabelEvent,
    LabelRow,
    ProjectMember,
    utcnow,
)
from annotator.store.trace_writer import PendingTrace, import_tuning, trace_ids, write_traces

BATCH_TRACES = 500
"""Traces per transaction: large enough to amortise the commit, small enough to stay flat."""
BATCH_BYTES = 8 * 1024 * 1024
"""Source bytes per transaction (a few 1 MB traces fill a chunk before 500 do)."""
REJECT_RECORD_CHARS = 64 * 1024
"""How much of a rejected record the reject file keeps."""
ERROR_SAMPLE = 20
"""Errors listed per file in the summary (all of them are in the reject file)."""
LABELS_KEY = "annotator_labels"
ADJUDICATIONS_KEY = "annotator_adjudications"

_BATCHES: Table = ImportBatch.__table__  # type: ignore[assignment]
_LABELS: Table = LabelRow.__table__  # type: ignore[assignment]
_EVENTS: Table = LabelEvent.__table__  # type: ignore[assignment]
_ADJUDICATIONS: Table = Adjudication.__table__  # type: ignore[assignment]
_ANNOTATORS: Table = Annotator.__table__  # type: ignore[assignment]
_MEMBERS: Table = ProjectMember.__table__  # type: ignore[assignment]


class ImportCancelled(Exception):
    """Raised inside the run when ``cancel`` is set; never escapes :func:`import_files`."""


@dataclass(frozen=True)
class ImportProgress:
    """A snapshot for progress bars. ``phase`` is ``import`` then ``index`` (full-text search)."""

    phase: str
    file: str
    file_index: int
    n_files: int
    bytes_done: int
    bytes_total: int
    records: int
    imported: int
    duplicates: int
    rejected: int
    indexed: int = 0
    index_total: int = 0


@dataclass
class FileResult:
    """What happened to one file. ``status``: done, failed (unreadable, or a strict stop),
    cancelled, or rolled_back (strict run stopped by another file)."""

    file: str
    sha256: str = ""
    size: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    labels: int = 0
    adjudications: int = 0
    reject_file: str | None = None
    errors: list[str] = field(default_factory=list)
    status: str = "running"
    error: str | None = None
    batch_id: int | None = None
    seen_before: bool = False
    """The same bytes (sha256) were imported into this project before."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "formats": dict(self.formats),
            "records": self.records,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "labels": self.labels,
            "adjudications": self.adjudications,
            "reject_file": self.reject_file,
            "errors": list(self.errors),
            "status": self.status,
            "error": self.error,
            "batch_id": self.batch_id,
            "seen_before": self.seen_before,
        }


@dataclass
class ImportSummary:
    project: str
    files: list[FileResult] = field(default_factory=list)
    strict: bool = False
    cancelled: bool = False
    stopped: str | None = None
    """Why a strict run imported nothing (the first bad record), else None."""
    import_seconds: float = 0.0
    index_seconds: float = 0.0
    """Time from the last committed trace until full-text search covers the project."""
    indexed: int = 0

    def _sum(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def records(self) -> int:
        return self._sum("records")

    @property
    def imported(self) -> int:
        return self._sum("imported")

    @property
    def duplicates(self) -> int:
        return self._sum("duplicates")

    @property
    def rejected(self) -> int:
        return self._sum("rejected")

    @property
    def labels(self) -> int:
        return self._sum("labels")

    @property
    def failed_files(self) -> int:
        return sum(1 for f in self.files if f.status == "failed")

    @property
    def ok(self) -> bool:
        """Everything read and stored: no reject, no failed file, not cancelled."""
        return not (self.rejected or self.failed_files or self.cancelled or self.stopped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "files": [f.as_dict() for f in self.files],
            "totals": {
                "files": len(self.files),
                "records": self.records,
                "imported": self.imported,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "labels": self.labels,
                "failed_files": self.failed_files,
            },
            "strict": self.strict,
            "cancelled": self.cancelled,
            "stopped": self.stopped,
            "import_seconds": round(self.import_seconds, 3),
            "index_seconds": round(self.index_seconds, 3),
            "indexed": self.indexed,
            "ok": self.ok,
        }


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and for a directory every readable file under it (sorted, recursive).
    A path that does not exist is kept so that its file result says so."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES)
                )
            )
        else:
            out.append(path)
    return list(dict.fromkeys(out))


# --- labels carried in meta.extra -------------------------------------------------------------


@dataclass(frozen=True)
class _ImportedLabel:
    annotator: str
    status: str
    verdict: str | None
    label_json: str
    seconds_spent: float
    comment: str | None
    schema_version: int
    created_at: datetime
    submitted_at: datetime | None


@dataclass(frozen=True)
class _ImportedAdjudication:
    lead: str
    verdict: str
    label_json: str
    note: str | None
    created_at: datetime


def _when(value: Any, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what}: not an ISO date-time: {value!r}") from None
    else:
        raise ValueError(f"{what}: not an ISO date-time: {value!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: a non-empty name is required")
    return value.strip()


def _label_of(entry: Any, where: str) -> _ImportedLabel:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object")
    label = Label.model_validate(entry.get("label") or {})
    status = entry.get("status") or LabelStatus.DONE.value
    if status not in {s.value for s in LabelStatus}:
        raise ValueError(f"{where}.status: unknown status {status!r}")
    verdict = entry.get("verdict", label.verdict)
    if verdict is not None and not isinstance(verdict, str):
        raise ValueError(f"{where}.verdict: expected a string")
    submitted = _when(entry.get("submitted_at"), f"{where}.submitted_at")
    return _ImportedLabel(
        annotator=_name(entry.get("annotator"), f"{where}.annotator"),
        status=status,
        verdict=verdict,
        label_json=label.model_dump_json(),
        seconds_spent=float(entry.get("seconds_spent") or 0.0),
        comment=entry.get("comment"),
        schema_version=int(entry.get("schema_version") or 1),
        created_at=_when(entry.get("created_at"), f"{where}.created_at") or submitted or utcnow(),
        submitted_at=submitted,
    )


def _adjudication_of(entry: Any, where: str) -> _ImportedAdjudication:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object")
    label = Label.model_validate(entry.get("label") or {})
    verdict = entry.get("verdict") or label.verdict
    if not isinstance(verdict, str) or not verdict:
        raise ValueError(f"{where}.verdict: required")
    return _ImportedAdjudication(
        lead=_name(entry.get("lead"), f"{where}.lead"),
        verdict=verdict,
        label_json=label.model_dump_json(),
        note=entry.get("note"),
        created_at=_when(entry.get("created_at"), f"{where}.created_at") or utcnow(),
    )


def _carried(trace: Trace) -> tuple[list[_ImportedLabel], list[_ImportedAdjudication]]:
    """Labels and adjudications a trace carries in ``meta.extra``; ValueError names the field."""
    extra = trace.meta.extra
    raw_labels = extra.get(LABELS_KEY) or []
    raw_adjs = extra.get(ADJUDICATIONS_KEY) or []
    if not isinstance(raw_labels, list):
        raise ValueError(f"{LABELS_KEY}: expected a list")
    if not isinstance(raw_adjs, list):
        raise ValueError(f"{ADJUDICATIONS_KEY}: expected a list")
    try:
        labels = [_label_of(e, f"{LABELS_KEY}[{i}]") for i, e in enumerate(raw_labels)]
        adjs = [_adjudication_of(e, f"{ADJUDICATIONS_KEY}[{i}]") for i, e in enumerate(raw_adjs)]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"label {loc}: {first['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return labels, adjs


def _naive_utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; compare everything as naive UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


# --- the run ----------------------------------------------------------------------------------


@dataclass
class _Pending:
    trace: Trace
    raw: bytes | None
    labels: list[_ImportedLabel]
    adjudications: list[_ImportedAdjudication]


class _RejectFile:
    """The reject file of one input file, created at its first bad record."""

    def __init__(self, directory: Path, source: Path, batch_id: int | None) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source.name)[:80]
        self.path = directory / f"{stamp}-batch{batch_id or 0}-{safe}.rejects.jsonl"
        self._directory = directory
        self._stream: IO[bytes] | None = None

    def write(self, error: RecordError, source: Path) -> None:
        if self._stream is None:
            self._directory.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("ab")
        raw = error.raw if isinstance(error, RejectedRecord) else None
        text = None
        if raw is not None:
            text = raw[: REJECT_RECORD_CHARS * 4].decode("utf-8", errors="replace")
            text = text[:REJECT_RECORD_CHARS]
        entry = {
            "file": error.source_file or str(source),
            "line": error.line,
            "reason": error.reason,
            "field": error.field,
            "record": text,
            "record_truncated": raw is not None and len(text or "") < len(raw),
        }
        self._stream.write(orjson.dumps(entry) + b"\n")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class _StrictStop(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _new_id(conn: Connection, statement: Insert) -> int:
    """The primary key of the one row ``statement`` inserts."""
    key = conn.execute(statement).inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database did not report the new row's id")
    return int(key[0])


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


class _Run:
    def __init__(
        self,
        db: Database,
        conn: Connection,
        project_id: int,
        summary: ImportSummary,
        *,
        format: str | None,
        imported_by: str | None,
        reject_dir: Path,
        progress: Callable[[ImportProgress], None] | None,
        cancel: threading.Event | None,
        bytes_total: int,
        n_files: int,
    ) -> None:
        self.db = db
        self.conn = conn
        self.project_id = project_id
        self.summary = summary
        self.format = format
        self.imported_by = imported_by
        self.reject_dir = reject_dir
        self.progress = progress
        self.cancel = cancel
        self.bytes_total = bytes_total
        self.bytes_before = 0
        self.n_files = n_files
        self.people: dict[str, int] = {}
        self.members: set[tuple[int, str]] = set()
        self._last_progress = 0.0

    # transactions: one per chunk, or none of our own inside the strict run's single one
    def tx(self) -> AbstractContextManager[Any]:
        return nullcontext() if self.summary.strict else self.conn.begin()

    def report(self, result: FileResult, index: int, bytes_done: int, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        totals = self.summary
        self.progress(
            ImportProgress(
                phase="import",
                file=result.file,
                file_index=index,
                n_files=self.n_files,
                bytes_done=min(self.bytes_before + bytes_done, self.bytes_total),
                bytes_total=self.bytes_total,
                records=totals.records,
                imported=totals.imported,
                duplicates=totals.duplicates,
                rejected=totals.rejected,
            )
        )

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ImportCancelled

    def start_batch(self, path: Path, result: FileResult) -> None:
        with self.tx():
            seen = self.conn.execute(
                select(_BATCHES.c.id)
                .where(
                    _BATCHES.c.project_id == self.project_id,
                    _BATCHES.c.file_sha256 == result.sha256,
                    _BATCHES.c.status == "done",
                )
                .limit(1)
            ).first()
            result.seen_before = seen is not None
            result.batch_id = _new_id(
                self.conn,
                insert(_BATCHES).values(
                    project_id=self.project_id,
                    file_path=str(path),
                    file_sha256=result.sha256,
                    file_size=result.size,
                    format=self.format,
                    imported_by=self.imported_by,
                    status="running",
                    n_records=0,
                    n_imported=0,
                    n_duplicates=0,
                    n_rejected=0,
                    started_at=utcnow(),
                ),
            )

    def batch_values(self, result: FileResult, status: str | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {
            "n_records": result.records,
            "n_imported": result.imported,
            "n_duplicates": result.duplicates,
            "n_rejected": result.rejected,
            "reject_file": result.reject_file,
            "format": ",".join(sorted(result.formats)) or self.format,
        }
        if status is not None:
            values["status"] = status
            values["finished_at"] = utcnow()
        return values

    def run_file(self, index: int, path: Path, result: FileResult) -> None:
        items = read_file(path, format=self.format)  # FormatError: file unreadable
        result.size = path.stat().st_size
        result.sha256 = _sha256(path)
        self.start_batch(path, result)
        rejects = _RejectFile(self.reject_dir, path, result.batch_id)
        try:
            self._consume(index, path, items, result, rejects)
        finally:
            rejects.close()
        with self.tx():
            self.conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == result.batch_id)
                .values(**self.batch_values(result, "done"))
            )
        result.status = "done"

    def _consume(
        self,
        index: int,
        path: Path,
        items: Iterator[tuple[SourceRecord, list[Trace]] | RecordError],
        result: FileResult,
        rejects: _RejectFile,
    ) -> None:
        buffer: list[_Pending] = []
        buffered_bytes = 0
        buffered_records = 0
        bytes_done = 0
        for item in items:
            self.check_cancel()
            if isinstance(item, RecordError):
                self.reject(item, path, result, rejects)
                continue
            record, traces = item
            bytes_done += len(record.raw) + 1 if record.raw is not None else 0
            pending: list[_Pending] = []
            try:
                for trace in traces:
                    labels, adjs = _carried(trace)
                    raw = record.raw if len(traces) == 1 and trace.original is record.data else None
                    pending.append(_Pending(trace, raw, labels, adjs))
            except ValueError as exc:
                self.reject(
                    RejectedRecord(
                        str(exc),
                        source_file=record.source_file,
                        line=record.line,
                        raw=record.raw,
                        field="meta.extra",
                    ),
                    path,
                    result,
                    rejects,
                )
                continue
            buffer.extend(pending)
            buffered_records += 1
            buffered_bytes += (
                len(record.raw)
                if record.raw is not None
                else sum(len(b.text) for p in pending for t in p.trace.turns for b in t.blocks)
            )
            if len(buffer) >= BATCH_TRACES or buffered_bytes >= BATCH_BYTES:
                self.flush(buffer, buffered_records, result)
                buffer, buffered_bytes, buffered_records = [], 0, 0
                self.report(result, index, bytes_done)
        self.check_cancel()
        self.flush(buffer, buffered_records, result)
        self.report(result, index, result.size, force=True)

    def reject(
        self, error: RecordError, path: Path, result: FileResult, rejects: _RejectFile
    ) -> None:
        rejects.write(error, path)
        result.reject_file = str(rejects.path)
        result.rejected += 1
        result.records += 1
        if len(result.errors) < ERROR_SAMPLE:
            result.errors.append(str(error))
        if self.summary.strict:
            raise _StrictStop(str(error))

    def flush(self, buffer: list[_Pending], n_records: int, result: FileResult) -> None:
        """One transaction: the traces, their labels, the batch row's counts."""
        if not buffer and not n_records:
            return
        assert result.batch_id is not None
        with self.tx():
            written = write_traces(
                self.conn,
                self.project_id,
                result.batch_id,
                [PendingTrace(p.trace, p.raw) for p in buffer],
            )
            labels = adjs = 0
            carrying = [p for p in buffer if p.labels or p.adjudications]
            if carrying:
                labels, adjs = self.merge_labels(carrying)
            formats = Counter(p.trace.meta.source_format for p in buffer)
            counts = {
                "records": result.records + n_records,
                "imported": result.imported + written.inserted,
                "duplicates": result.duplicates + written.duplicates,
            }
            self.conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == result.batch_id)
                .values(
                    n_records=counts["records"],
                    n_imported=counts["imported"],
                    n_duplicates=counts["duplicates"],
                    n_rejected=result.rejected,
                    reject_file=result.reject_file,
                    format=",".join(sorted(set(result.formats) | set(formats))) or self.format,
                )
            )
        # Counted only once committed, so a cancelled run reports what is really stored.
        result.records = counts["records"]
        result.imported = counts["imported"]
        result.duplicates = counts["duplicates"]
        result.labels += labels
        result.adjudications += adjs
        for name, n in formats.items():
            result.formats[name] = result.formats.get(name, 0) + n

    # --- labels ---------------------------------------------------------------------------

    def person(self, name: str, role: str) -> int:
        person_id = self.people.get(name)
        if person_id is None:
            person_id = self.conn.execute(
                select(_ANNOTATORS.c.id).where(_ANNOTATORS.c.name == name)
            ).scalar()
            if person_id is None:
                person_id = _new_id(
                    self.conn, insert(_ANNOTATORS).values(name=name, created_at=utcnow())
                )
            self.people[name] = int(person_id)
        person_id = self.people[name]
        if (person_id, role) not in self.members:
            member = self.conn.execute(
                select(_MEMBERS.c.role).where(
                    _MEMBERS.c.project_id == self.project_id,
                    _MEMBERS.c.annotator_id == person_id,
                )
            ).first()
            if member is None:
                self.conn.execute(
                    insert(_MEMBERS).values(
                        project_id=self.project_id, annotator_id=person_id, role=role
                    )
                )
            elif role == "lead" and member.role != "lead":
                self.conn.execute(
                    update(_MEMBERS)
                    .where(
                        _MEMBERS.c.project_id == self.project_id,
                        _MEMBERS.c.annotator_id == person_id,
                    )
                    .values(role="lead")
                )
            self.members.add((person_id, role))
        return person_id

    def merge_labels(self, carrying: list[_Pending]) -> tuple[int, int]:
        """Add each carried label unless the annotator already has one at least as new; add
        adjudications not already present. Also for traces that were duplicates."""
        ids = trace_ids(self.conn, self.project_id, (p.trace.uid for p in carrying))
        n_labels = n_adjs = 0
        for pending in carrying:
            trace_id = ids.get(pending.trace.uid)
            if trace_id is None:  # pragma: no cover - written just above in this transaction
                continue
            for label in pending.labels:
                if self.merge_label(trace_id, label):
                    n_labels += 1
            for adj in pending.adjudications:
                if self.add_adjudication(trace_id, adj):
                    n_adjs += 1
        return n_labels, n_adjs

    def merge_label(self, trace_id: int, label: _ImportedLabel) -> bool:
        annotator_id = self.person(label.annotator, "labeler")
        existing = self.conn.execute(
            select(_LABELS.c.id, _LABELS.c.submitted_at).where(
                _LABELS.c.trace_id == trace_id, _LABELS.c.annotator_id == annotator_id
            )
        ).first()
        values = {
            "status": label.status,
            "verdict": label.verdict,
            "label_json": label.label_json,
            "seconds_spent": label.seconds_spent,
            "comment": label.comment,
            "schema_version": label.schema_version,
            "with_suggestions": False,
        }
        if existing is None:
            self.conn.execute(
                insert(_LABELS).values(
                    project_id=self.project_id,
                    trace_id=trace_id,
                    annotator_id=annotator_id,
                    updated_at=label.submitted_at or label.created_at,
                    submitted_at=label.submitted_at,
                    **values,
                )
            )
        else:
            theirs = _naive_utc(label.submitted_at)
            ours = _naive_utc(existing.submitted_at)
            if theirs is None or (ours is not None and theirs <= ours):
                return False
            self.conn.execute(
                update(_LABELS)
                .where(_LABELS.c.id == existing.id)
                .values(updated_at=label.submitted_at, submitted_at=label.submitted_at, **values)
            )
        self.conn.execute(
            insert(_EVENTS).values(
                project_id=self.project_id,
                trace_id=trace_id,
                annotator_id=annotator_id,
                action="import",
                created_at=label.submitted_at or label.created_at,
                **values,
            )
        )
        return True

    def add_adjudication(self, trace_id: int, adj: _ImportedAdjudication) -> bool:
        lead_id = self.person(adj.lead, "lead")
        same = self.conn.execute(
            select(_ADJUDICATIONS.c.id).where(
                _ADJUDICATIONS.c.trace_id == trace_id,
                _ADJUDICATIONS.c.lead_id == lead_id,
                _ADJUDICATIONS.c.verdict == adj.verdict,
                _ADJUDICATIONS.c.label_json == adj.label_json,
                _ADJUDICATIONS.c.created_at == adj.created_at,
            )
        ).first()
        if same is not None:
            return False
        self.conn.execute(
            insert(_ADJUDICATIONS).values(
                project_id=self.project_id,
                trace_id=trace_id,
                lead_id=lead_id,
                verdict=adj.verdict,
                label_json=adj.label_json,
                note=adj.note,
                created_at=adj.created_at,
            )
        )
        return True

    def close_batch(self, result: FileResult, status: str, *, rolled_back: bool = False) -> None:
        """Record how a file ended when the run stopped early (its own short transaction)."""
        if rolled_back:
            result.imported = result.duplicates = result.labels = result.adjudications = 0
            result.formats = {}
        values = self.batch_values(result, status)
        with self.conn.begin():
            if rolled_back or result.batch_id is None:
                result.batch_id = _new_id(
                    self.conn,
                    insert(_BATCHES).values(
                        project_id=self.project_id,
                        file_path=result.file,
                        file_sha256=result.sha256,
                        file_size=result.size,
                        imported_by=self.imported_by,
                        started_at=utcnow(),
                        **values,
                    ),
                )
            else:
                self.conn.execute(
                    update(_BATCHES).where(_BATCHES.c.id == result.batch_id).values(**values)
                )


def import_files(
    db: Database,
    project: str,
    paths: Sequence[Path],
    *,
    format: str | None = None,
    strict: bool = False,
    imported_by: str | None = None,
    reject_dir: Path | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportSummary:
    """Import ``paths`` (files; directories are expanded) into ``project``, then bring full-text
    search up to date.

    Raises ProjectError for an unknown project and FormatError for an unknown ``format``; any
    problem inside a file is reported in its FileResult. KeyboardInterrupt is re-raised after the
    batch rows say ``cancelled``.
    """
    resolve_format(format)
    files = expand_paths(paths)
    with db.session() as session:
        project_id = get_project(session, project).id
    summary = ImportSummary(project=project, strict=strict)
    results = [FileResult(file=str(p)) for p in files]
    sizes = [p.stat().st_size if p.is_file() else 0 for p in files]
    started = time.monotonic()
    interrupted = False
    with db.engine.connect() as conn, import_tuning(conn):
        run = _Run(
            db,
            conn,
            project_id,
            summary,
            format=format,
            imported_by=imported_by,
            reject_dir=reject_dir if reject_dir is not None else resolve_paths().data / "rejects",
            progress=progress,
            cancel=cancel,
            bytes_total=sum(sizes),
            n_files=len(files),
        )
        outer = conn.begin() if strict else None
        current: FileResult | None = None
        try:
            for index, (path, result) in enumerate(zip(files, results, strict=True)):
                current = result
                summary.files.append(result)
                try:
                    run.run_file(index, path, result)
                except (FormatError, OSError) as exc:
                    result.status = "failed"
                    result.error = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
                    if strict:
                        raise _StrictStop(result.error) from None
                    if result.batch_id is not None:
                        with conn.begin():
                            conn.execute(
                                update(_BATCHES)
                                .where(_BATCHES.c.id == result.batch_id)
                                .values(**run.batch_values(result, "failed"))
                            )
                run.bytes_before += sizes[index]
            if outer is not None:
                outer.commit()
        except _StrictStop as stop:
            if outer is not None:
                outer.rollback()
            summary.stopped = stop.message
            for result in summary.files:
                result.status = "failed" if result is current else "rolled_back"
                run.close_batch(result, "failed", rolled_back=True)
        except (ImportCancelled, KeyboardInterrupt) as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            if conn.in_transaction():
                conn.rollback()
            summary.cancelled = True
            for result in summary.files:
                if result.status == "running" or strict:
                    result.status = "cancelled"
                    run.close_batch(result, "cancelled", rolled_back=strict)
        summary.import_seconds = time.monotonic() - started
    if interrupted:
        raise KeyboardInterrupt
    if not summary.cancelled and not summary.stopped:
        _index(db, summary, progress, cancel, len(files))
    return summary


def _index(
    db: Database,
    summary: ImportSummary,
    progress: Callable[[ImportProgress], None] | None,
    cancel: threading.Event | None,
    n_files: int,
) -> None:
    """Bring the full-text index up to date and time it apart from the import."""
    from annotator.store.search import index_pending

    started = time.monotonic()

    def on_progress(done: int, total: int) -> None:
        if progress is not None:
            progress(
                ImportProgress(
                    phase="index",
                    file="",
                    file_index=n_files,
                    n_files=n_files,
                    bytes_done=0,
                    bytes_total=0,
                    records=summary.records,
                    imported=summary.imported,
                    duplicates=summary.duplicates,
                    rejected=summary.rejected,
                    indexed=done,
                    index_total=total,
                )
            )

    summary.indexed = index_pending(db, batch_size=2000, progress=on_progress, cancel=cancel)
    summary.index_seconds = time.monotonic() - started
