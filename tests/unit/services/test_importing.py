"""Import semantics on real SQLite files: dedupe, rejects, strict, cancel, labels round trip."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.formats.base import SourceRecord
from annotator.formats.containers import FormatError
from annotator.services import importing
from annotator.services.importing import ImportProgress, expand_paths, import_files
from annotator.services.projects import ProjectError, create_project
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    Annotator,
    ImportBatch,
    LabelEvent,
    LabelRow,
    ProjectMember,
    TraceRow,
)
from annotator.store.open import open_database
from annotator.store.search import search_trace_ids, unindexed_count


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_project(database, "p")
    yield database
    database.dispose()


@pytest.fixture
def rejects(tmp_path: Path) -> Path:
    return tmp_path / "rejects"


def chat(i: int, *, text: str = "question", reasoning: str = "thinking") -> dict[str, Any]:
    return {
        "request": {"model": "m", "messages": [{"role": "user", "content": f"{text} {i}"}]},
        "response": {
            "id": f"chatcmpl-{i}",
            "model": "m",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": f"answer {i}",
                        "reasoning_content": f"{reasoning} {i}",
                    }
                }
            ],
        },
    }


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def count(db: Database, model: type[Any], *where: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def batches(db: Database) -> list[ImportBatch]:
    with db.session() as session:
        return list(session.scalars(select(ImportBatch).order_by(ImportBatch.id)))


def test_corpus_imports_every_file_and_reimport_adds_nothing(
    db: Database, corpus_dir: Path, rejects: Path
) -> None:
    first = import_files(db, "p", [corpus_dir], imported_by="lead", reject_dir=rejects)
    files = expand_paths([corpus_dir])
    assert len(first.files) == len(files) >= 8
    assert first.ok and first.rejected == 0
    assert not any(f.seen_before for f in first.files)
    assert all(f.status == "done" and f.imported > 0 for f in first.files)
    stored = count(db, TraceRow)
    assert stored == first.imported
    assert first.indexed == stored
    with db.session() as session:
        assert unindexed_count(session) == 0
    rows = batches(db)
    assert [r.status for r in rows] == ["done"] * len(files)
    for row, result in zip(rows, first.files, strict=True):
        assert row.file_sha256 == result.sha256
        assert result.sha256 == hashlib.sha256(Path(result.file).read_bytes()).hexdigest()
        assert row.file_size == Path(result.file).stat().st_size
        assert row.n_imported == result.imported and row.imported_by == "lead"
        assert row.format and row.finished_at is not None

    second = import_files(db, "p", [corpus_dir], reject_dir=rejects)
    assert second.imported == 0
    assert second.duplicates == first.imported
    assert all(f.seen_before for f in second.files)
    assert count(db, TraceRow) == stored
    assert second.ok


def test_jsonl_line_is_kept_verbatim_and_columns_filled(db: Database, tmp_path: Path) -> None:
    line = b'{ "request" : {"messages": [{"role": "user", "content": "hello   world"}]},  "response": {"id": "r1", "model": "m", "choices": [{"message": {"role": "assistant", "content": "hi", "reasoning_content": "hmm"}}]}}'
    path = write_jsonl(tmp_path / "a.jsonl", [line])
    import_files(db, "p", [path], reject_dir=tmp_path)
    with db.session() as session:
        row = session.scalars(select(TraceRow)).one()
        assert row.original == line
        assert row.uid == "r1" and row.model == "m"
        assert row.source_line == 1 and row.source_file == str(path)
        assert row.n_turns == 2 and row.reasoning_chars == 3
        assert row.preview == "hello world"
        assert search_trace_ids(session, row.project_id, "hmm") == [row.id]


def test_bad_records_are_rejected_with_file_line_reason_and_rest_imported(
    db: Database, tmp_path: Path, rejects: Path
) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            orjson.dumps(chat(1)),
            b'{"request": {"messages": [',  # invalid JSON
            b"[1, 2, 3]",  # not an object
            b'{"text": "caf\xe9"}',  # invalid UTF-8
            orjson.dumps({"foo": 1}),  # unknown shape
            orjson.dumps(chat(2)),
        ],
    )
    summary = import_files(db, "p", [path], reject_dir=rejects)
    (result,) = summary.files
    assert (result.records, result.imported, result.rejected) == (6, 2, 4)
    assert not summary.ok
    assert result.reject_file is not None and Path(result.reject_file).parent == rejects
    entries = [orjson.loads(x) for x in Path(result.reject_file).read_bytes().splitlines()]
    assert [e["line"] for e in entries] == [2, 3, 4, 5]
    assert all(e["file"] == str(path) for e in entries)
    reasons = [e["reason"] for e in entries]
    assert "invalid JSON" in reasons[0]
    assert "not an object" in reasons[1]
    assert "UTF-8" in reasons[2]
    assert "unknown record shape" in reasons[3]
    assert entries[0]["record"] == '{"request": {"messages": ['
    assert result.errors[0].startswith(f"{path}:2: invalid JSON")
    (row,) = batches(db)
    assert (row.status, row.n_records, row.n_imported, row.n_rejected) == ("done", 6, 2, 4)
    assert row.reject_file == result.reject_file
    assert count(db, TraceRow) == 2


def test_strict_stops_at_first_bad_record_and_imports_nothing(
    db: Database, tmp_path: Path, rejects: Path
) -> None:
    good = write_jsonl(tmp_path / "a_good.jsonl", [orjson.dumps(chat(i)) for i in range(10)])
    bad = write_jsonl(
        tmp_path / "b_bad.jsonl", [orjson.dumps(chat(100)), b"{oops", orjson.dumps(chat(101))]
    )
    summary = import_files(db, "p", [good, bad], strict=True, reject_dir=rejects)
    assert summary.stopped is not None and ":2: invalid JSON" in summary.stopped
    assert summary.imported == 0 and not summary.ok
    assert [f.status for f in summary.files] == ["rolled_back", "failed"]
    assert count(db, TraceRow) == 0
    assert summary.indexed == 0
    rows = batches(db)
    assert [(r.status, r.n_imported) for r in rows] == [("failed", 0), ("failed", 0)]
    # The same files without the bad one go in whole.
    ok = import_files(db, "p", [good], strict=True, reject_dir=rejects)
    assert ok.ok and ok.imported == 10 and count(db, TraceRow) == 10


def test_unreadable_file_fails_alone(db: Database, tmp_path: Path, rejects: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [orjson.dumps(chat(1))])
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    summary = import_files(db, "p", [odd, good], reject_dir=rejects)
    assert [f.status for f in summary.files] == ["failed", "done"]
    assert summary.files[0].error is not None and "notes.txt" in summary.files[0].error
    assert summary.imported == 1 and not summary.ok
    assert [(r.file_path, r.status) for r in batches(db)] == [
        (str(odd), "failed"),
        (str(good), "done"),
    ]


def test_unknown_project_and_format_raise_before_anything(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [orjson.dumps(chat(1))])
    with pytest.raises(ProjectError, match="no project named 'nope'"):
        import_files(db, "nope", [path], reject_dir=tmp_path)
    with pytest.raises(FormatError, match="unknown format"):
        import_files(db, "p", [path], format="nope", reject_dir=tmp_path)
    assert batches(db) == []


def test_forced_format_is_used(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [orjson.dumps(chat(1))])
    summary = import_files(db, "p", [path], format="openai_chat", reject_dir=tmp_path)
    assert summary.files[0].formats == {"openai_chat": 1}


def test_duplicates_inside_one_file_are_counted(db: Database, tmp_path: Path) -> None:
    line = orjson.dumps(chat(7))
    path = write_jsonl(tmp_path / "a.jsonl", [line, line, line])
    summary = import_files(db, "p", [path], reject_dir=tmp_path)
    assert (summary.imported, summary.duplicates) == (1, 2)


class CancelAfter(threading.Event):
    """Says "cancelled" after ``n`` checks: a deterministic stand-in for a user's click."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel_keeps_committed_batches_and_marks_the_batch(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_TRACES", 100)
    path = write_jsonl(tmp_path / "big.jsonl", [orjson.dumps(chat(i)) for i in range(450)])
    summary = import_files(db, "p", [path], cancel=CancelAfter(250), reject_dir=tmp_path)
    assert summary.cancelled and not summary.ok
    (result,) = summary.files
    assert result.status == "cancelled"
    assert result.imported == 200 == count(db, TraceRow)
    (row,) = batches(db)
    assert (row.status, row.n_imported, row.n_records) == ("cancelled", 200, 200)
    assert row.finished_at is not None
    # Importing again completes the file.
    again = import_files(db, "p", [path], reject_dir=tmp_path)
    assert (again.imported, again.duplicates) == (250, 200)
    assert count(db, TraceRow) == 450


def test_keyboard_interrupt_leaves_the_database_consistent(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_TRACES", 100)
    path = write_jsonl(tmp_path / "big.jsonl", [orjson.dumps(chat(i)) for i in range(450)])
    real_read_file = importing.read_file

    def ctrl_c_at_record_250(path: Path, *, format: str | None = None) -> Iterator[Any]:
        for n, item in enumerate(real_read_file(path, format=format), start=1):
            if n == 250:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(importing, "read_file", ctrl_c_at_record_250)
    with pytest.raises(KeyboardInterrupt):
        import_files(db, "p", [path], reject_dir=tmp_path)
    (row,) = batches(db)
    assert row.status == "cancelled"
    assert row.n_imported == count(db, TraceRow) == 200
    assert row.n_records == 200


def test_a_failing_checkpoint_fails_the_import_instead_of_hanging_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread hands its commits to the WAL checkpointer after each chunk. That step
    failing once made the writer thread end with chunks still queued, and the caller waited for
    them forever; now the failure reaches the caller like any database error."""
    from annotator.store.checkpoint import WalCheckpointer

    monkeypatch.setattr(importing, "BATCH_TRACES", 50)
    path = write_jsonl(tmp_path / "big.jsonl", [orjson.dumps(chat(i)) for i in range(300)])

    def broken(self: WalCheckpointer) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(WalCheckpointer, "after_commit", broken)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            import_files(db, "p", [path], reject_dir=tmp_path)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the import hung"
    assert len(outcome) == 1 and isinstance(outcome[0], OSError), outcome


def test_strict_interrupt_rolls_back_everything(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_TRACES", 100)
    path = write_jsonl(tmp_path / "big.jsonl", [orjson.dumps(chat(i)) for i in range(450)])
    summary = import_files(
        db, "p", [path], strict=True, cancel=CancelAfter(300), reject_dir=tmp_path
    )
    assert summary.cancelled and summary.imported == 0
    assert count(db, TraceRow) == 0
    assert [(r.status, r.n_imported) for r in batches(db)] == [("cancelled", 0)]


def test_progress_reports_bytes_and_index_phase(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [orjson.dumps(chat(i)) for i in range(20)])
    seen: list[ImportProgress] = []
    import_files(db, "p", [path], progress=seen.append, reject_dir=tmp_path)
    imports = [p for p in seen if p.phase == "import"]
    assert imports[-1].bytes_done == imports[-1].bytes_total == path.stat().st_size
    assert imports[-1].imported == 20
    index = [p for p in seen if p.phase == "index"]
    assert index and index[-1].indexed == index[-1].index_total == 20


# --- labels carried in meta.extra (what the export reader produces) -----------------------------


def labeled_trace(uid: str, labels: list[dict[str, Any]], adjs: list[dict[str, Any]]) -> Trace:
    return Trace(
        uid=uid,
        turns=(
            Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=f"prompt {uid}"),)),
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text="let me think"),
                    Block(kind=BlockKind.TEXT, text="done"),
                ),
            ),
        ),
        meta=TraceMeta(
            source_format="annotator_export",
            extra={"kept": 1, "annotator_labels": labels, "annotator_adjudications": adjs},
        ),
        original={"uid": uid},
    )


def label(annotator: str, verdict: str, submitted: str, **more: Any) -> dict[str, Any]:
    return {
        "annotator": annotator,
        "status": "done",
        "verdict": verdict,
        "label": {"verdict": verdict, "confidence": 2, "tags": ["REASONING_ELICIT"]},
        "seconds_spent": 12.5,
        "comment": None,
        "schema_version": 1,
        "created_at": submitted,
        "submitted_at": submitted,
        **more,
    }


@pytest.fixture
def fake_reader(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Trace]]:
    """``read_file`` replaced by traces the test builds, keyed by file name."""
    files: dict[str, list[Trace]] = {}

    def read_file(path: Path, *, format: str | None = None) -> Iterator[Any]:
        for line, trace in enumerate(files[path.name], start=1):
            yield SourceRecord(data=trace.original, source_file=str(path), line=line), [trace]

    monkeypatch.setattr(importing, "read_file", read_file)
    return files


def labels_of(db: Database) -> dict[tuple[str, str], LabelRow]:
    with db.session() as session:
        rows = session.execute(
            select(TraceRow.uid, Annotator.name, LabelRow)
            .join(TraceRow, TraceRow.id == LabelRow.trace_id)
            .join(Annotator, Annotator.id == LabelRow.annotator_id)
        )
        return {(uid, name): row for uid, name, row in rows}


def test_labels_round_trip_and_merge_on_reimport(
    db: Database, tmp_path: Path, fake_reader: dict[str, list[Trace]]
) -> None:
    first = tmp_path / "export1.jsonl"
    first.write_text("x")
    fake_reader[first.name] = [
        labeled_trace(
            "t1",
            [
                label("ann", "legitimate", "2026-01-01T10:00:00+00:00"),
                label("bob", "suspected_distillation", "2026-01-01T11:00:00+00:00"),
            ],
            [
                {
                    "lead": "lea",
                    "verdict": "legitimate",
                    "label": {"verdict": "legitimate", "confidence": 3},
                    "note": "agreed",
                    "created_at": "2026-01-02T09:00:00+00:00",
                }
            ],
        ),
        labeled_trace("t2", [], []),
    ]
    summary = import_files(db, "p", [first], reject_dir=tmp_path)
    assert (summary.imported, summary.files[0].labels, summary.files[0].adjudications) == (2, 2, 1)
    stored = labels_of(db)
    assert set(stored) == {("t1", "ann"), ("t1", "bob")}
    ann = stored[("t1", "ann")]
    assert ann.verdict == "legitimate" and ann.status == "done" and ann.seconds_spent == 12.5
    assert orjson.loads(ann.label_json)["tags"] == ["REASONING_ELICIT"]
    assert count(db, LabelEvent, LabelEvent.action == "import") == 2
    assert count(db, Adjudication) == 1
    assert count(db, ProjectMember) == 3
    with db.session() as session:
        extra = orjson.loads(session.scalars(select(TraceRow.meta_extra)).first() or "{}")
    assert extra == {"kept": 1}

    # The same export again: nothing new at all.
    again = import_files(db, "p", [first], reject_dir=tmp_path)
    assert (again.imported, again.duplicates, again.files[0].labels) == (0, 2, 0)
    assert again.files[0].adjudications == 0
    assert count(db, LabelEvent) == 2 and count(db, Adjudication) == 1

    # Another export of t1: ann relabeled later (newer wins), bob's older label is ignored,
    # cid is new.
    second = tmp_path / "export2.jsonl"
    second.write_text("x")
    fake_reader[second.name] = [
        labeled_trace(
            "t1",
            [
                label("ann", "suspected_distillation", "2026-02-01T10:00:00+00:00"),
                label("bob", "legitimate", "2025-12-01T10:00:00+00:00"),
                label("cid", "cannot_determine", "2026-02-01T12:00:00+00:00"),
            ],
            [],
        )
    ]
    merged = import_files(db, "p", [second], reject_dir=tmp_path)
    assert (merged.imported, merged.duplicates, merged.files[0].labels) == (0, 1, 2)
    stored = labels_of(db)
    assert stored[("t1", "ann")].verdict == "suspected_distillation"
    assert stored[("t1", "bob")].verdict == "suspected_distillation"
    assert stored[("t1", "cid")].verdict == "cannot_determine"
    assert count(db, LabelEvent) == 4


def test_malformed_carried_labels_reject_the_record(
    db: Database, tmp_path: Path, fake_reader: dict[str, list[Trace]]
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("x")
    fake_reader[path.name] = [
        labeled_trace("bad1", [label("ann", "legitimate", "yesterday")], []),
        labeled_trace("bad2", [{"annotator": "ann", "label": {"confidence": "lots"}}], []),
        labeled_trace("bad3", [label("", "legitimate", "2026-01-01T00:00:00")], []),
        labeled_trace("ok", [label("ann", "legitimate", "2026-01-01T00:00:00")], []),
    ]
    summary = import_files(db, "p", [path], reject_dir=tmp_path)
    result = summary.files[0]
    assert (result.imported, result.rejected, result.labels) == (1, 3, 1)
    assert "submitted_at" in result.errors[0]
    assert "confidence" in result.errors[1]
    assert "annotator" in result.errors[2]
    assert set(labels_of(db)) == {("ok", "ann")}


def test_a_folder_leaves_out_the_manifest_of_an_export(tmp_path: Path) -> None:
    """Importing an export folder reads its data files, not the export's manifest.json; a file of
    that name that is not an export manifest is still read."""
    from annotator.services.exporting.manifest import MANIFEST_VERSION, write_manifest

    export = tmp_path / "export"
    (export / "data").mkdir(parents=True)
    (export / "data" / "train.jsonl").write_text('{"messages": []}\n')
    write_manifest(export / "manifest.json", {"manifest_version": MANIFEST_VERSION})
    other = tmp_path / "logs"
    other.mkdir()
    (other / "manifest.json").write_text('{"messages": [{"role": "user", "content": "hi"}]}')
    assert expand_paths([export]) == [export / "data" / "train.jsonl"]
    assert expand_paths([other]) == [other / "manifest.json"]
    assert expand_paths([export / "manifest.json"]) == [export / "manifest.json"]  # asked for
