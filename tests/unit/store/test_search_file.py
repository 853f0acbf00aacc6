"""The SQLite search index in files of its own, one per shard: indexing never takes the
database's write lock (so it runs beside an import and beside labelers' saves), it follows an
import as it commits, an index that belongs to another copy of the database is rebuilt, backups
carry it, revision 0004 moves an existing index there without re-indexing, and revision 0005
empties it for the shards to rebuild."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from annotator.store import search as search_module
from annotator.store.database import (
    SEARCH_SHARD_LIST,
    SQLITE_PAGE_SIZE,
    Database,
    make_engine,
    search_file_of,
    search_files_of,
)
from annotator.store.maintenance import backup_database
from annotator.store.open import open_database
from annotator.store.revisions import alembic_config
from annotator.store.search import index_pending, indexed_upto, unindexed_count
from tests.unit.store.test_search import add_project, add_trace, check_index, search


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{db_path}")
    yield database
    database.dispose()


def test_the_index_is_files_beside_the_database(db: Database, db_path: Path) -> None:
    """One file per shard; shard k holds the traces whose id modulo the shards is k."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, name, f"a zebra {name}") for name in ("one", "two", "three")]
    assert index_pending(db) == 3
    assert search(db, pid, "zebra") == ids
    assert search_files_of(str(db_path)) == [
        str(db_path.with_name("db.sqlite3-search")),
        str(db_path.with_name("db.sqlite3-search1")),
    ]
    plain = sqlite3.connect(db_path)  # the database file alone, as any other tool opens it
    try:
        names = {row[0] for row in plain.execute("SELECT name FROM sqlite_master")}
    finally:
        plain.close()
    assert "traces" in names
    assert not {n for n in names if n.startswith("trace_fts")}
    for shard in SEARCH_SHARD_LIST:
        index = sqlite3.connect(search_file_of(str(db_path), shard))
        try:
            # Every shard's watermark names the last trace read, whichever shard holds it.
            assert index.execute("SELECT indexed_upto FROM search_state").fetchone() == (ids[-1],)
            hits = index.execute("SELECT rowid FROM trace_fts WHERE trace_fts MATCH 'zebra'")
            assert [row[0] for row in hits] == [i for i in ids if i % 2 == shard.number]
        finally:
            index.close()


def test_indexing_never_waits_for_the_database_write_lock(db: Database, db_path: Path) -> None:
    """Another connection holds the database's write lock (an import's transaction, a save):
    the indexer still reads the traces and writes its own file. With the old single file it
    waited the whole busy timeout and failed with "database is locked"."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"walrus number{i}") for i in range(30)]
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("PRAGMA busy_timeout=0")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE projects SET name = 'renamed' WHERE id = ?", (pid,))
    try:
        started = time.monotonic()
        assert index_pending(db, batch_size=7) == 30
        assert time.monotonic() - started < 5, "it waited for the lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert search(db, pid, "walrus", limit=100) == ids


def test_a_save_never_waits_for_the_indexer(db: Database, db_path: Path) -> None:
    """The reverse: while an indexer holds the index file's write lock, the database takes a
    write at once (busy timeout 0)."""
    with db.session() as s:
        pid = add_project(s, "p")
        add_trace(s, pid, "a", "text")
    indexer = sqlite3.connect(search_file_of(str(db_path)), isolation_level=None)
    indexer.execute("BEGIN IMMEDIATE")
    indexer.execute("INSERT INTO trace_fts(rowid, text) VALUES (999, 'held')")
    try:
        saver = sqlite3.connect(db_path, isolation_level=None)
        saver.execute("PRAGMA busy_timeout=0")
        saver.execute("UPDATE projects SET name = 'saved' WHERE id = ?", (pid,))
        saver.close()
    finally:
        indexer.execute("ROLLBACK")
        indexer.close()


def test_indexing_while_traces_are_committed_indexes_each_once(db: Database) -> None:
    """An indexer and a writer at the same time (the window catching up while an import
    stores): nothing is missed or indexed twice, and the writer never waited for the index."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"first{i}", f"otter first{i}") for i in range(300)]
    counted: list[int] = []
    indexer = threading.Thread(
        target=lambda: counted.append(index_pending(db, batch_size=7, commit_chars=50))
    )
    indexer.start()
    slowest = 0.0
    try:
        for wave in range(20):
            started = time.monotonic()
            with db.session() as s:
                ids += [add_trace(s, pid, f"w{wave}-{i}", f"otter wave{wave}") for i in range(5)]
            slowest = max(slowest, time.monotonic() - started)
    finally:
        indexer.join(30)
    assert not indexer.is_alive()
    assert slowest < 2, "a write waited for the indexer"
    counted.append(index_pending(db, batch_size=7))
    assert sum(counted) == len(ids) == 400
    assert search(db, pid, "otter", limit=1000) == ids
    check_index(db)


def test_an_index_of_another_copy_of_the_database_is_rebuilt(db: Database, db_path: Path) -> None:
    """A database file restored from an older copy, with the newer index still beside it: the
    ids past the copy's end will be reused by other traces, so the index must not be trusted."""
    with db.session() as s:
        pid = add_project(s, "p")
        kept = [add_trace(s, pid, f"k{i}", f"heron kept{i}") for i in range(3)]
    index_pending(db)
    db.dispose()
    older = db_path.with_name("older.sqlite3")
    shutil.copy(db_path, older)  # checkpointed on dispose: the copy is complete
    with db.session() as s:
        gone = [add_trace(s, pid, f"g{i}", "heron vanished") for i in range(3)]
    assert index_pending(db) == 3
    db.dispose()
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    shutil.copy(older, db_path)

    restored = open_database(f"sqlite:///{db_path}")
    try:
        with restored.session() as s:
            assert indexed_upto(s) == 0, "the watermark names a trace this copy does not have"
            assert unindexed_count(s) == 3
            reused = add_trace(s, pid, "new", "a kingfisher")  # takes the id of gone[0]
        assert reused == gone[0]
        assert index_pending(restored) == 4
        assert search(restored, pid, "vanished") == []
        assert search(restored, pid, "heron", limit=100) == kept
        assert search(restored, pid, "kingfisher") == [reused]
    finally:
        restored.dispose()


def test_a_backup_carries_its_index(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        tid = add_trace(s, pid, "a", "an ibis in the backup")
    index_pending(db)
    dest = backup_database(db, tmp_path / "copy.sqlite3")
    assert all(Path(index).is_file() for index in search_files_of(str(dest)))
    copy = open_database(f"sqlite:///{dest}")
    try:
        with copy.session() as s:
            assert unindexed_count(s) == 0
        assert search(copy, pid, "ibis") == [tid]
    finally:
        copy.dispose()


def _indexed_at(url: str, revision: str, index: str, texts: list[str], watermark: str) -> None:
    """A database at ``revision`` with one trace per text in project 1, indexed in ``index``
    with ``watermark`` as that revision kept them."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), revision)
        with Session(engine) as s, s.begin():
            pid = add_project(s, "p")
            for i, words in enumerate(texts, start=1):
                tid = add_trace(s, pid, f"u{i}", words)
                s.execute(
                    text(f"INSERT INTO {index}(rowid, text) VALUES (:id, :text)"),
                    {"id": tid, "text": words},
                )
            s.execute(text(watermark))
    finally:
        engine.dispose()


def test_revision_0004_moves_an_existing_index_without_reindexing(db_path: Path) -> None:
    """A database at 0003 with its index in the database file (as every earlier version wrote
    it): after the upgrade the same index answers from its own file, nothing is pending; a
    downgrade puts it back."""
    url = f"sqlite:///{db_path}"
    _indexed_at(
        url,
        "0003",
        "main.trace_fts",
        ["puffin cliff", "puffin sea", "gannet"],
        "INSERT INTO app_state (key, value) VALUES ('fts_indexed_upto', '3')",
    )

    db = Database(url, make_engine(url))
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "0004")
        with db.session() as s:
            assert s.scalar(text("SELECT indexed_upto FROM search.search_state")) == 3
            assert s.scalar(text("SELECT indexed_trace FROM search.search_state")) == "1:u3"
            legacy = s.scalar(
                text("SELECT count(*) FROM main.sqlite_master WHERE name = 'trace_fts'")
            )
            assert legacy == 0
            watermark = s.scalar(text("SELECT count(*) FROM app_state"))
            assert watermark == 0
        with db.engine.connect() as conn:
            hits = conn.exec_driver_sql(
                "SELECT rowid FROM search.trace_fts WHERE trace_fts MATCH 'puffin' ORDER BY rowid"
            ).all()
            assert [r[0] for r in hits] == [1, 2]
            conn.exec_driver_sql(
                "INSERT INTO search.trace_fts(trace_fts, rank) VALUES ('integrity-check', 0)"
            )
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "0003")
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT rowid FROM main.trace_fts WHERE trace_fts MATCH 'puffin' ORDER BY rowid"
            ).all()
            mark = conn.exec_driver_sql("SELECT value FROM app_state").scalar()
        assert [r[0] for r in rows] == [1, 2]
        assert mark == "3"
    finally:
        db.dispose()


def test_the_index_files_have_the_database_page_size(db: Database, db_path: Path) -> None:
    for file in search_files_of(str(db_path)):
        index = sqlite3.connect(file)
        try:
            assert index.execute("PRAGMA page_size").fetchone() == (SQLITE_PAGE_SIZE,)
            assert index.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            index.close()


def test_revision_0005_empties_a_single_file_index_for_the_shards(db_path: Path) -> None:
    """A database at 0004 holds every trace in the first index file; shard 1 would index the
    odd ones again. The upgrade empties it, and the next indexing rebuilds both shards; a
    downgrade empties both, so 0004 rebuilds its single file."""
    url = f"sqlite:///{db_path}"
    _indexed_at(
        url,
        "0004",
        "search.trace_fts",
        ["tern beach", "tern dune", "skua"],
        "INSERT INTO search.search_state VALUES (1, 3, '1:u3')",
    )

    db = open_database(url, backup_dir=db_path.parent / "backups")
    try:
        with db.session() as s:
            assert unindexed_count(s) == 3
            assert indexed_upto(s) == 0
        assert search(db, 1, "tern") == []
        assert index_pending(db) == 3
        assert search(db, 1, "tern") == [1, 2]
        assert search(db, 1, "skua") == [3]
        check_index(db)
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "0004")
        with db.engine.connect() as conn:
            for shard in SEARCH_SHARD_LIST:
                left = conn.exec_driver_sql(
                    f"SELECT count(*) FROM {shard.schema}.trace_fts_docsize"
                ).scalar()
                state = conn.exec_driver_sql(
                    f"SELECT count(*) FROM {shard.schema}.search_state"
                ).scalar()
                assert (left, state) == (0, 0)
    finally:
        db.dispose()


def test_the_shards_are_indexed_at_the_same_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One indexer per shard, each on its own thread: their work overlaps in time (decoding a
    trace is slowed down here so that the overlap is certain to be seen if it exists)."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"plover {i}") for i in range(16)]
    real = search_module.search_text_of
    spans: list[tuple[str, float, float]] = []

    def slow(turns_json: bytes) -> str:
        started = time.monotonic()
        time.sleep(0.02)
        spans.append((threading.current_thread().name, started, time.monotonic()))
        return real(turns_json)

    monkeypatch.setattr(search_module, "search_text_of", slow)
    assert index_pending(db, batch_size=4) == 16
    assert search(db, pid, "plover", limit=100) == ids
    threads = {name for name, _, _ in spans}
    assert len(threads) == len(SEARCH_SHARD_LIST), threads
    overlapping = any(
        a_name != b_name and a_start < b_end and b_start < a_end
        for a_name, a_start, a_end in spans
        for b_name, b_start, b_end in spans
    )
    assert overlapping, "the shards were indexed one after the other"


def test_ctrl_c_stops_every_shard_and_keeps_what_they_committed(db: Database) -> None:
    """Ctrl+C reaches the calling thread (here: from its progress callback): every shard stops
    after its current transaction, no indexing thread is left, and the next run does the rest."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"avocet {i}") for i in range(60)]
    before = set(threading.enumerate())

    def interrupt(done: int, _total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_pending(db, batch_size=5, progress=interrupt)
    assert set(threading.enumerate()) <= before, "an indexing thread is still running"
    found = search(db, pid, "avocet", limit=100)
    assert 0 < len(found) < 60
    with db.session() as s:
        assert unindexed_count(s) == 60 - len(found)
    assert index_pending(db, batch_size=5) == 60 - len(found)
    assert search(db, pid, "avocet", limit=100) == ids
    check_index(db)
