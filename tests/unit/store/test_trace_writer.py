"""The bulk trace writer: columns, dedupe, the conflict path, the import-time cache size."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import event, func, insert, select

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.services.projects import create_project
from annotator.store import database as database_module
from annotator.store import trace_writer
from annotator.store.database import SQLITE_PAGE_SIZE, Database
from annotator.store.models import TraceRow
from annotator.store.open import open_database
from annotator.store.trace_writer import (
    PendingTrace,
    existing_uids,
    import_tuning,
    insert_rows,
    prepare_rows,
    trace_ids,
    write_traces,
)
from annotator.store.traces import load_trace


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_project(database, "p")
    yield database
    database.dispose()


def make(uid: str, *, truncated: bool = False, extra: dict[str, object] | None = None) -> Trace:
    return Trace(
        uid=uid,
        turns=(
            Turn(
                role=Role.USER,
                blocks=(Block(kind=BlockKind.TEXT, text="  what   is\n2+2? " + "x" * 200),),
            ),
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text="four-ish", truncated=truncated),
                    Block(kind=BlockKind.TEXT, text="4"),
                ),
            ),
        ),
        meta=TraceMeta(
            source_format="openai_chat",
            model="m",
            account_id="acc",
            input_tokens=3,
            output_tokens=-1,
            extra=extra or {},
        ),
        original={"id": uid},
    )


def test_columns_and_round_trip(db: Database) -> None:
    trace = make("a", truncated=True, extra={"k": [1], "annotator_labels": [{"x": 1}]})
    with db.engine.begin() as conn:
        result = write_traces(conn, 1, None, [PendingTrace(trace, raw=b'{"id":  "a"}')])
    assert (result.inserted, result.duplicates, result.inserted_uids) == (1, 0, ("a",))
    with db.session() as session:
        row = session.scalars(select(TraceRow)).one()
        assert (row.n_turns, row.reasoning_chars, row.truncated_count) == (2, 8, 1)
        assert row.preview.startswith("what is 2+2? xxx") and row.preview.endswith("…")
        assert len(row.preview) == 160
        assert (row.input_tokens, row.output_tokens) == (3, None)
        assert orjson.loads(row.meta_extra) == {"k": [1]}
        assert row.original == b'{"id":  "a"}'
        loaded = load_trace(session, row.id)
    assert loaded.turns == trace.turns
    assert loaded.meta.extra == {"k": [1]}


def test_duplicates_in_batch_and_in_database(db: Database) -> None:
    with db.engine.begin() as conn:
        first = write_traces(conn, 1, None, [PendingTrace(make(u)) for u in ("a", "b", "a")])
        second = write_traces(conn, 1, None, [PendingTrace(make(u)) for u in ("b", "c")])
        ids = trace_ids(conn, 1, ["a", "c", "zz"])
    assert (first.inserted, first.duplicates) == (2, 1)
    assert (second.inserted, second.duplicates, second.inserted_uids) == (1, 1, ("c",))
    assert set(ids) == {"a", "c"}


def test_same_uid_in_another_project_is_not_a_duplicate(db: Database) -> None:
    create_project(db, "q")
    with db.engine.begin() as conn:
        write_traces(conn, 1, None, [PendingTrace(make("a"))])
        again = write_traces(conn, 2, None, [PendingTrace(make("a"))])
    assert again.inserted == 1


def test_a_uid_taken_meanwhile_is_skipped_not_an_error(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another importer inserted "b" after our lookup: the insert ignores the conflict and the
    result counts only what this batch stored."""
    with db.engine.begin() as conn:
        write_traces(conn, 1, None, [PendingTrace(make("b"))])
    monkeypatch.setattr(trace_writer, "existing_uids", lambda *args: set())
    with db.engine.begin() as conn:
        batch = conn.exec_driver_sql(
            "INSERT INTO import_batches (project_id, file_path, file_sha256, file_size, status,"
            " n_records, n_imported, n_duplicates, n_rejected, started_at)"
            " VALUES (1, 'f', '', 0, 'running', 0, 0, 0, 0, '2026-01-01')"
        ).lastrowid
        rows = prepare_rows([PendingTrace(make(u)) for u in "abc"], project_id=1, batch_id=batch)
        result = insert_rows(conn, 1, batch, rows)
    assert (result.inserted, result.duplicates, result.inserted_uids) == (2, 1, ("a", "c"))


def test_import_tuning_restores_the_cache_size(db: Database) -> None:
    with db.engine.connect() as conn:
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.commit()
        with import_tuning(conn):
            during = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.commit()
        after = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.commit()
    assert during == -trace_writer.IMPORT_CACHE_KIB
    assert after == before != during


def test_fast_preview_equals_the_domain_preview() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        n = rng.choice([0, 5, 159, 160, 161, 500, 1279, 1280, 1281, 5000])
        text = "".join(rng.choice(["a", "bc", " ", "\n", "\t", "    ", "é"]) for _ in range(n))
        trace = Trace(
            uid="x",
            turns=(Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=text),)),),
            meta=TraceMeta(source_format="f"),
        )
        assert trace_writer._preview(trace) == trace.preview()


def test_multi_row_statements_store_what_the_orm_insert_stores(db: Database) -> None:
    """Rows go in as several multi-row statements (duplicates inside and across statement
    boundaries skipped); every column holds the same value as SQLAlchemy's own insert stores."""
    create_project(db, "reference")
    size = trace_writer._ROWS_PER_STATEMENT
    uids = [f"u{i}" for i in range(2 * size + 7)]
    uids[size + 1] = uids[size - 1]  # a duplicate across the first statement boundary
    uids[3] = uids[2]  # and one inside a statement
    traces = []
    for i, uid in enumerate(uids):
        meta = TraceMeta(
            source_format="openai_chat",
            created_at=datetime(2026, 2, 1, 12, 30, i % 60, 123456, tzinfo=UTC),
            model=None if i % 3 else "m",
            input_tokens=i,
            extra={"n": i} if i % 2 else {},
        )
        traces.append(make(uid).model_copy(update={"meta": meta}))
    rows = prepare_rows([PendingTrace(t) for t in traces], project_id=1, batch_id=None)
    with db.engine.begin() as conn:
        result = insert_rows(conn, 1, None, rows)
        reference = prepare_rows([PendingTrace(t) for t in traces], project_id=2, batch_id=None)
        for row, ref in zip(rows, reference, strict=True):
            ref["imported_at"] = row["imported_at"]
        seen: set[str] = set()
        first_of_each = [r for r in reference if not (r["uid"] in seen or seen.add(r["uid"]))]
        conn.execute(insert(TraceRow), first_of_each)
    assert result.inserted == len(set(uids)) == len(uids) - 2
    assert result.duplicates == 2
    assert list(result.inserted_uids) == list(dict.fromkeys(uids))
    columns = [c.name for c in TraceRow.__table__.columns if c.name not in ("id", "project_id")]
    with db.engine.connect() as conn:
        stored = {
            pid: conn.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM traces WHERE project_id = ? ORDER BY id", (pid,)
            ).all()
            for pid in (1, 2)
        }
    assert stored[1] == stored[2]
    assert stored[1][0][columns.index("created_at")] == "2026-02-01 12:30:00.123456"


def test_new_databases_get_large_pages_and_old_ones_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old.sqlite3"
    with monkeypatch.context() as patch:
        patch.setattr(database_module, "SQLITE_PAGE_SIZE", 4096)  # made by an earlier version
        open_database(f"sqlite:///{old}", backup_dir=None).dispose()
    for path, expected in ((tmp_path / "new.sqlite3", SQLITE_PAGE_SIZE), (old, 4096)):
        database = open_database(f"sqlite:///{path}", backup_dir=None)
        try:
            with database.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA page_size").scalar() == expected
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            create_project(database, "p")
        finally:
            database.dispose()


def test_six_insert_texts_and_few_statements_whatever_the_batch_sizes(db: Database) -> None:
    """The driver keeps every prepared statement with a copy of its last parameters: one text per
    remainder size would keep many copies of trace bytes alive (memory growing with the file).
    A remainder goes in a handful of statements, not one per row (each statement is a wait for
    the GIL on the import's writer thread)."""
    texts: set[str] = set()
    calls: list[int] = []

    def remember(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("INSERT INTO traces"):
            texts.add(statement)
            calls.append(statement.count("), ("))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        n = 0
        with db.engine.begin() as conn:
            for size in (1, 7, 49, 50, 51, 99, 101, 3, 2, 48):
                batch = [PendingTrace(make(f"s{n + i}")) for i in range(size)]
                n += size
                calls.clear()
                assert write_traces(conn, 1, None, batch).inserted == size
                rows = [commas + 1 for commas in calls]
                assert sum(rows) == size
                assert rows == sorted(rows, reverse=True)
                assert len(rows) <= size // 50 + 6, rows
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert len(texts) == 6
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TraceRow)) == n


def test_existing_uids_finds_the_project_s_uids_in_lookups_of_any_size(db: Database) -> None:
    """More uids than one lookup takes, some present in the project, some in another project
    only, some nowhere (SQLite answers through the driver, see ``existing_uids``)."""
    create_project(db, "other")
    with db.engine.begin() as conn:
        write_traces(conn, 1, None, [PendingTrace(make(f"p{i}")) for i in range(0, 1200, 3)])
        write_traces(conn, 2, None, [PendingTrace(make(f"p{i}")) for i in range(1, 1200, 3)])
    wanted = [f"p{i}" for i in range(1200)] + ["p0", "nowhere"]
    with db.engine.connect() as conn:
        found = existing_uids(conn, 1, wanted)
    assert found == {f"p{i}" for i in range(0, 1200, 3)}
