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

import ctypes
import hashlib
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
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
from annotator.gcpause import long_lived_frozen
from annotator.paths import resolve_paths
from annotator.services.projects import get_project
from annotator.store.checkpoint import WalCheckpointer, checkpoints_beside
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
from annotator.store.search import index_pending
from annotator.store.trace_writer import (
    PendingTrace,
    import_tuning,
    insert_rows,
    prepare_rows,
    trace_ids,
)

BATCH_TRACES = 500
"""Traces per transaction: large enough to amortise the commit, small enough to stay flat."""
BATCH_BYTES = 4 * 1024 * 1024
"""Source bytes per transaction (a few 1 MB traces fill a chunk before 500 do). Three chunks are
in memory at once (being parsed, queued, being written); 8 MB cost ~60 MB more peak RSS for no
measurable speed."""
INDEX_BATCH = 200
"""Traces the full-text indexer reads at a time: 2000 cost ~80 MB more peak RSS on 24 KB
traces."""
INDEX_COMMIT_CHARS = 32 * 1024 * 1024
"""Characters of text per full-text index transaction (each commit writes one FTS5 segment)."""
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


class IndexingInterrupted(KeyboardInterrupt):
    """Ctrl+C after every file was imported, while the full-text index caught up: all traces
    are stored and their batches done (``summary``); what was indexed stays indexed, and the
    next import (or the app) indexes the rest."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__()
        self.summary = summary


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
    stored_records: int = 0
    """Records whose traces are committed (the rest of ``records`` are the rejected ones)."""
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

    @property
    def records(self) -> int:
        return self.stored_records + self.rejected

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
    """Files as given, and for a directory every readable file under it (sorted, recursive),
    except the manifest of an export folder (an export re-imported as a folder holds one).
    A path that does not exist is kept so that its file result says so."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.name.lower().endswith(SUFFIXES)
                    and not _is_export_manifest(p)
                )
            )
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def _is_export_manifest(path: Path) -> bool:
    if path.name != "manifest.json" or path.stat().st_size > _MANIFEST_MAX_BYTES:
        return False
    # Here, not at the top: the exporting package loads pyarrow (~0.2 s for every import run).
    from annotator.services.exporting.filters import ExportError
    from annotator.services.exporting.manifest import MANIFEST_NAME, read_manifest

    if path.name != MANIFEST_NAME:
        return False
    try:
        read_manifest(path)
    except ExportError:
        return False
    return True


_MANIFEST_MAX_BYTES = 1 << 20


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


def _sha256_meanwhile(path: Path) -> Future[str]:
    """The file's sha256, computed on a thread of its own while the records are parsed.

    Hashing releases the GIL and costs about a fifth of an import's time (0.12 s per 50 MB,
    measured), which used to come before the first record was read."""
    digest: Future[str] = Future()

    def run() -> None:
        try:
            digest.set_result(_sha256(path))
        except BaseException as exc:
            digest.set_exception(exc)

    threading.Thread(target=run, name="import-sha256", daemon=True).start()
    return digest


_STOP = object()


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None
    return trim


_TRIM = _malloc_trim()


def _release_free_memory() -> None:
    """Hand freed heap pages back to the OS after each chunk. glibc keeps them otherwise, and
    with chunks built on one thread and freed on another the peak RSS of a long import crept
    up (160 -> 275 MB over 200 MB of input); trimming keeps it flat for ~1 ms a chunk."""
    if _TRIM is not None:
        _TRIM(0)


class _Writer:
    """The one thread that talks to the database during an import.

    SQLite does its page writing, commits and checkpoints with the GIL released, so while this
    thread stores one chunk the caller parses the next: on two cores the import takes about
    max(parse, write) rather than their sum. Tasks run in submission order on one connection,
    which never leaves this thread. The queue is short, so memory stays bounded (backpressure).
    """

    def __init__(self, db: Database, depth: int = 1) -> None:
        self._db = db
        self._tasks: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._ready = Future[None]()
        self._thread = threading.Thread(target=self._serve, name="import-writer", daemon=True)
        self._thread.start()
        self._ready.result()

    def _serve(self) -> None:
        try:
            with (
                self._db.engine.connect() as conn,
                import_tuning(conn),
                checkpoints_beside(conn) as checkpointer,
            ):
                self._checkpointer = checkpointer
                self._ready.set_result(None)
                while True:
                    task = self._tasks.get()
                    if task is _STOP:
                        break
                    fn, future = task
                    if self._error is not None:
                        future.set_exception(self._error)
                        continue
                    try:
                        value = fn(conn)
                        if checkpointer is not None:
                            checkpointer.after_commit()
                    except BaseException as exc:
                        self._error = exc
                        future.set_exception(exc)
                    else:
                        future.set_result(value)
                if conn.in_transaction():
                    conn.rollback()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            elif self._error is None:
                self._error = exc
            self._fail_queued()

    def _fail_queued(self) -> None:
        """The thread is ending on an error: fail the tasks still queued (the caller waits on
        their futures) and keep failing new ones."""
        error = self._error or RuntimeError("the import's writer thread stopped")
        self._error = error
        for future in self._take_queued():
            future.set_exception(error)

    def _take_queued(self) -> list[Future[Any]]:
        """Empty the queue; the futures of the tasks that were in it."""
        futures: list[Future[Any]] = []
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return futures
            if task is not _STOP:
                futures.append(task[1])

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, fn: Callable[[Connection], Any]) -> Future[Any]:
        """Queue ``fn(conn)``; blocks while the queue is full. A failure of an earlier task is
        raised here (and the tasks after it are not run)."""
        self._raise_pending()
        future: Future[Any] = Future()
        if not self._thread.is_alive():  # stopped on an error already raised: nobody would run it
            future.set_exception(RuntimeError("the import's writer thread stopped"))
            return future
        self._tasks.put((fn, future))
        return future

    def call(self, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn(conn)`` after everything queued and return its value."""
        return self.submit(fn).result()

    def discard_queued(self) -> None:
        """Forget tasks not started yet (after Ctrl+C or cancel: their chunks are not stored)."""
        for future in self._take_queued():
            future.cancel()

    def recover(self) -> None:
        """Clear a failure so that clean-up tasks (batch status) can still run."""
        self._error = None

    def close(self) -> None:
        self._tasks.put(_STOP)
        self._thread.join()

    def checkpoint(self, conn: Connection) -> None:
        """Fold the rest of the write-ahead log into the database file now, as part of the
        import's time (after the background checkpoints have stopped)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        _checkpoint(conn)


class _Run:
    def __init__(
        self,
        writer: _Writer,
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
        self.writer = writer
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
        self._in_flight: Future[Any] | None = None

    # --- in the caller's thread -----------------------------------------------------------

    def tx(self, conn: Connection) -> AbstractContextManager[Any]:
        """One transaction per chunk, or none of our own inside a strict run's single one."""
        return nullcontext() if self.summary.strict else conn.begin()

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

    def run_file(self, index: int, path: Path, result: FileResult) -> None:
        items = read_file(path, format=self.format)  # FormatError: file unreadable
        result.size = path.stat().st_size
        digest = _sha256_meanwhile(path)
        self.writer.call(lambda conn: self.start_batch(conn, path, result))
        rejects = _RejectFile(self.reject_dir, path, result.batch_id)
        try:
            self._consume(index, path, items, result, rejects)
        finally:
            rejects.close()
        result.sha256 = digest.result()
        self.writer.call(lambda conn: self.finish_batch(conn, result))
        result.status = "done"
        self.report(result, index, result.size, force=True)

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

    def reject(
        self, error: RecordError, path: Path, result: FileResult, rejects: _RejectFile
    ) -> None:
        rejects.write(error, path)
        result.reject_file = str(rejects.path)
        result.rejected += 1
        if len(result.errors) < ERROR_SAMPLE:
            result.errors.append(str(error))
        if self.summary.strict:
            raise _StrictStop(str(error))

    def flush(self, buffer: list[_Pending], n_records: int, result: FileResult) -> None:
        """Encode the chunk here, store it on the writer thread."""
        if not buffer and not n_records:
            return
        assert result.batch_id is not None
        rows = prepare_rows(
            [PendingTrace(p.trace, p.raw) for p in buffer],
            project_id=self.project_id,
            batch_id=result.batch_id,
        )
        carrying = [p for p in buffer if p.labels or p.adjudications]
        formats = Counter(p.trace.meta.source_format for p in buffer)
        if self._in_flight is not None:
            # At most one chunk being written while this one was built: two chunks in memory.
            self._in_flight.result()
        self._in_flight = self.writer.submit(
            lambda conn: self.store_chunk(conn, rows, carrying, formats, n_records, result)
        )

    # --- on the writer thread ---------------------------------------------------------------

    def start_batch(self, conn: Connection, path: Path, result: FileResult) -> None:
        """The file's batch row, before its sha256 is known (:meth:`finish_batch` adds it)."""
        with self.tx(conn):
            result.batch_id = _new_id(
                conn,
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
            "file_sha256": result.sha256,
        }
        if status is not None:
            values["status"] = status
            values["finished_at"] = utcnow()
        return values

    def finish_batch(self, conn: Connection, result: FileResult) -> None:
        with self.tx(conn):
            seen = conn.execute(
                select(_BATCHES.c.id)
                .where(
                    _BATCHES.c.project_id == self.project_id,
                    _BATCHES.c.file_sha256 == result.sha256,
                    _BATCHES.c.status == "done",
                    _BATCHES.c.id != result.batch_id,
                )
                .limit(1)
            ).first()
            result.seen_before = seen is not None
            conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == result.batch_id)
                .values(**self.batch_values(result, "done"))
            )

    def store_chunk(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        carrying: list[_Pending],
        formats: Counter[str],
        n_records: int,
        result: FileResult,
    ) -> None:
        """One transaction: the traces, their labels, the batch row's counts."""
        with self.tx(conn):
            written = insert_rows(conn, self.project_id, result.batch_id, rows)
            labels = adjs = 0
            if carrying:
                labels, adjs = self.merge_labels(conn, carrying)
            stored = result.stored_records + n_records
            conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == result.batch_id)
                .values(
                    n_records=stored + result.rejected,
                    n_imported=result.imported + written.inserted,
                    n_duplicates=result.duplicates + written.duplicates,
                    n_rejected=result.rejected,
                    reject_file=result.reject_file,
                    format=",".join(sorted(set(result.formats) | set(formats))) or self.format,
                )
            )
        _release_free_memory()
        # Counted only once committed, so a cancelled run reports what is really stored.
        result.stored_records = stored
        result.imported += written.inserted
        result.duplicates += written.duplicates
        result.labels += labels
        result.adjudications += adjs
        for name, n in formats.items():
            result.formats[name] = result.formats.get(name, 0) + n

    def person(self, conn: Connection, name: str, role: str) -> int:
        person_id = self.people.get(name)
        if person_id is None:
            person_id = conn.execute(
                select(_ANNOTATORS.c.id).where(_ANNOTATORS.c.name == name)
            ).scalar()
            if person_id is None:
                person_id = _new_id(
                    conn, insert(_ANNOTATORS).values(name=name, created_at=utcnow())
                )
            self.people[name] = int(person_id)
        person_id = self.people[name]
        if (person_id, role) not in self.members:
            member = conn.execute(
                select(_MEMBERS.c.role).where(
                    _MEMBERS.c.project_id == self.project_id,
                    _MEMBERS.c.annotator_id == person_id,
                )
            ).first()
            if member is None:
                conn.execute(
                    insert(_MEMBERS).values(
                        project_id=self.project_id, annotator_id=person_id, role=role
                    )
                )
            elif role == "lead" and member.role != "lead":
                conn.execute(
                    update(_MEMBERS)
                    .where(
                        _MEMBERS.c.project_id == self.project_id,
                        _MEMBERS.c.annotator_id == person_id,
                    )
                    .values(role="lead")
                )
            self.members.add((person_id, role))
        return person_id

    def merge_labels(self, conn: Connection, carrying: list[_Pending]) -> tuple[int, int]:
        """Add each carried label unless the annotator already has one at least as new; add
        adjudications not already present. Also for traces that were duplicates."""
        ids = trace_ids(conn, self.project_id, (p.trace.uid for p in carrying))
        n_labels = n_adjs = 0
        for pending in carrying:
            trace_id = ids.get(pending.trace.uid)
            if trace_id is None:  # pragma: no cover - written just above in this transaction
                continue
            for label in pending.labels:
                if self.merge_label(conn, trace_id, label):
                    n_labels += 1
            for adj in pending.adjudications:
                if self.add_adjudication(conn, trace_id, adj):
                    n_adjs += 1
        return n_labels, n_adjs

    def merge_label(self, conn: Connection, trace_id: int, label: _ImportedLabel) -> bool:
        annotator_id = self.person(conn, label.annotator, "labeler")
        existing = conn.execute(
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
            conn.execute(
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
            conn.execute(
                update(_LABELS)
                .where(_LABELS.c.id == existing.id)
                .values(updated_at=label.submitted_at, submitted_at=label.submitted_at, **values)
            )
        conn.execute(
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

    def add_adjudication(self, conn: Connection, trace_id: int, adj: _ImportedAdjudication) -> bool:
        lead_id = self.person(conn, adj.lead, "lead")
        same = conn.execute(
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
        conn.execute(
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

    def close_batch(
        self, conn: Connection, result: FileResult, status: str, *, rolled_back: bool = False
    ) -> None:
        """Record how a file ended when the run stopped early (its own short transaction)."""
        if conn.in_transaction():
            conn.rollback()
        if rolled_back:
            result.stored_records = result.imported = result.duplicates = 0
            result.labels = result.adjudications = 0
            result.formats = {}
        values = self.batch_values(result, status)
        with conn.begin():
            if rolled_back or result.batch_id is None:
                result.batch_id = _new_id(
                    conn,
                    insert(_BATCHES).values(
                        project_id=self.project_id,
                        file_path=result.file,
                        file_size=result.size,
                        imported_by=self.imported_by,
                        started_at=utcnow(),
                        **values,
                    ),
                )
            else:
                conn.execute(
                    update(_BATCHES).where(_BATCHES.c.id == result.batch_id).values(**values)
                )


def _checkpoint(conn: Connection) -> None:
    """Fold the write-ahead log into the database file now."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
        conn.commit()


@long_lived_frozen()
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
    writer = _Writer(db)
    run = _Run(
        writer,
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
    try:
        if strict:
            writer.call(lambda conn: conn.begin())
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
                    # One batch row per file, also for one that could not be read at all.
                    writer.call(
                        lambda conn, r=result: run.close_batch(conn, r, "failed")  # type: ignore[misc]
                    )
                run.bytes_before += sizes[index]
            writer.call(lambda conn: conn.commit() if strict else None)
            writer.call(writer.checkpoint)
        except _StrictStop as stop:
            writer.discard_queued()
            writer.recover()
            summary.stopped = stop.message
            for result in summary.files:
                result.status = "failed" if result is current else "rolled_back"
                writer.call(
                    lambda conn, r=result: run.close_batch(conn, r, "failed", rolled_back=True)  # type: ignore[misc]
                )
        except (ImportCancelled, KeyboardInterrupt) as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            # Chunks already handed to the writer are complete: they are stored, then the rows
            # are marked (a strict run rolls everything back instead).
            if strict:
                writer.discard_queued()
            writer.recover()
            summary.cancelled = True
            for result in summary.files:
                if result.status == "running" or strict:
                    result.status = "cancelled"
                    writer.call(
                        lambda conn, r=result: run.close_batch(  # type: ignore[misc]
                            conn, r, "cancelled", rolled_back=strict
                        )
                    )
        except Exception:
            # A database failure: what was committed stays; the batch rows say so.
            writer.discard_queued()
            writer.recover()
            for result in summary.files:
                if result.status == "running":
                    result.status = "failed"
                    writer.call(
                        lambda conn, r=result: run.close_batch(conn, r, "failed")  # type: ignore[misc]
                    )
            raise
    finally:
        writer.close()
    summary.import_seconds = time.monotonic() - started
    if interrupted:
        raise KeyboardInterrupt
    if not summary.cancelled and not summary.stopped:
        try:
            _index(db, summary, progress, cancel, len(files))
        except KeyboardInterrupt:
            raise IndexingInterrupted(summary) from None
    return summary


def _index(
    db: Database,
    summary: ImportSummary,
    progress: Callable[[ImportProgress], None] | None,
    cancel: threading.Event | None,
    n_files: int,
) -> None:
    """Bring the full-text index up to date and time it apart from the import."""
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

    summary.indexed = index_pending(
        db,
        batch_size=INDEX_BATCH,
        commit_chars=INDEX_COMMIT_CHARS,
        progress=on_progress,
        cancel=cancel,
    )
    summary.index_seconds = time.monotonic() - started
