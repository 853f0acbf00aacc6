"""Label table and assignment snapshots: a new process (a new Database, so no in-memory cache)
starts from the snapshot file plus what changed since and gets exactly what a full read gives;
a snapshot of another database, project, history or schema generation, or a damaged one, is
never used (a full read instead); files are written atomically and only when due."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from annotator.domain.label import EvidenceSpan, Label
from annotator.services import label_snapshot
from annotator.services import label_table as lt
from annotator.services.agreement import agreement_report
from annotator.services.assignment import assign, reassign
from annotator.services.labeling import LabelingService
from annotator.services.progress import flush_snapshots, progress
from annotator.services.projects import get_project
from annotator.store.database import Database
from tests.unit.agreement.lead_world import LEAD, make_project, open_db
from tests.unit.services.test_label_table import _decoded, full_reads

Opener = Callable[[], Database]


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "cache"
    label_snapshot.use_snapshots(directory)
    lt.clear_cache()
    yield directory
    label_snapshot.use_snapshots(None)
    lt.clear_cache()


@pytest.fixture
def opener(tmp_path: Path) -> Iterator[Opener]:
    """Opens the test database as a new process would: a new engine, so empty caches."""
    opened: list[Database] = []

    def open_() -> Database:
        db = open_db(tmp_path / "snap.db")
        opened.append(db)
        return db

    yield open_
    for db in opened:
        db.dispose()


def _table(db: Database, project: str = "P") -> lt.LabelTable:
    with db.session() as session:
        pid = get_project(session, project).id
        return lt.label_table(db, session.connection(), pid)


def _label(verdict: str, *tags: str, span: tuple[int, int] | None = None) -> Label:
    return Label(
        verdict=verdict,
        tags=tags,
        confidence=2,
        spans=(EvidenceSpan(turn=1, block=0, start=span[0], end=span[1]),) if span else (),
    )


def _fresh_full_read(db: Database) -> lt.LabelTable:
    """What a full read gives now (snapshots off, cache empty)."""
    directory = label_snapshot.snapshot_dir()
    label_snapshot.use_snapshots(None)
    lt.clear_cache()
    try:
        return _table(db)
    finally:
        label_snapshot.use_snapshots(directory)
        lt.clear_cache()


def _labeled_world(db: Database) -> list[int]:
    ids = make_project(db, n=10)
    assign(
        db, "P", n_items=10, labelers=["ann", "bob"], overlap_k=2, order="import", assigned_by=LEAD
    )
    ann, bob = LabelingService(db, "P", "ann"), LabelingService(db, "P", "bob")
    for i in range(6):
        ann.submit(ids[i], _label("legitimate", "REASONING_ELICIT", span=(1, 9)), 20.0)
        bob.submit(ids[i], _label("legitimate" if i % 2 else "suspected_distillation"), 30.0)
    return ids


def test_snapshot_plus_changes_equals_a_full_read(
    cache: Path, opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = opener()
    ids = _labeled_world(db)
    first = _table(db)
    progress(db, "P", lead=LEAD)
    assert flush_snapshots(db) == 2  # the label table and the assignments
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["assignments", "labels"]
    assert flush_snapshots(db) == 0  # nothing changed since
    db.dispose()

    # Later, another process: relabel, skip, undo, a new label, a flag.
    db = opener()
    ann, bob = LabelingService(db, "P", "ann"), LabelingService(db, "P", "bob")
    bob.submit(ids[0], _label("legitimate", "REASONING_ELICIT", span=(3, 7)), 5.0)
    ann.skip(ids[6], 4.0)
    ann.submit(ids[7], _label("cannot_determine"), 12.0)
    assert ann.undo_last_submit() == ids[7]
    bob.flag(ids[8], "unreadable", 3.0)
    db.dispose()

    db = opener()
    calls = full_reads(monkeypatch)
    merged = _table(db)
    assert calls == []  # the snapshot plus the changes, no full read
    # The arrays were decoded on a thread of their own, which is gone once they were read.
    for thread in [t for t in threading.enumerate() if t.name.startswith("label-snapshot")]:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert merged.fingerprint != first.fingerprint
    assert _decoded(merged) == _decoded(_fresh_full_read(db))
    calls.clear()
    report = progress(db, "P", lead=LEAD).as_dict()
    agreement = agreement_report(db, "P", lead=LEAD, bootstrap=0).as_dict()
    assert calls == []
    db.dispose()

    # The same numbers without any snapshot.
    label_snapshot.use_snapshots(None)
    db = opener()
    assert progress(db, "P", lead=LEAD).as_dict() == report
    assert agreement_report(db, "P", lead=LEAD, bootstrap=0).as_dict() == agreement
    assert calls == [1]


def test_relabels_after_a_snapshot_are_patched_into_its_arrays_like_a_full_read(
    cache: Path, opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only relabels since the snapshot (no new rows): the table read from the file is patched
    in place (nothing else holds it); the file, and later refreshes, stay right."""
    db = opener()
    ids = _labeled_world(db)
    progress(db, "P", lead=LEAD)
    assert flush_snapshots(db) == 2
    snapshot = next(cache.glob("labels-*"))
    written = snapshot.read_bytes()
    db.dispose()

    db = opener()
    ann, bob = LabelingService(db, "P", "ann"), LabelingService(db, "P", "bob")
    bob.submit(ids[0], _label("legitimate", "REASONING_ELICIT", span=(3, 7)), 5.0)
    ann.submit(ids[3], _label("cannot_determine"), 12.0)
    db.dispose()

    db = opener()
    calls = full_reads(monkeypatch)
    patched = lt._patch
    in_place: list[bool] = []

    def spying(*args: object, **kwargs: object) -> lt.LabelTable | None:
        in_place.append(bool(kwargs.get("in_place")))
        return patched(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lt, "_patch", spying)
    assert _decoded(_table(db)) == _decoded(_fresh_full_read(db))
    assert calls == [1] and in_place == [True]  # the one full read is the comparison's
    assert snapshot.read_bytes() == written
    merged = _table(db)  # the cache was emptied by the comparison: from the file again
    assert in_place == [True, True]
    # The same process again: the cached table is shared, so it is copied, not written to.
    before = _decoded(merged)
    LabelingService(db, "P", "bob").submit(ids[3], _label("suspected_distillation"), 7.0)
    again = _table(db)
    assert in_place == [True, True, False]
    assert _decoded(merged) == before
    assert _decoded(again) == _decoded(_fresh_full_read(db))
    assert before != _decoded(again)
    db.dispose()


def test_a_snapshot_is_not_used_after_a_deletion(
    cache: Path, opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = opener()
    ids = _labeled_world(db)
    _table(db)
    assert flush_snapshots(db) == 1  # labels only: progress never ran
    with db.session() as session:
        session.execute(text("DELETE FROM labels WHERE trace_id = :t"), {"t": ids[2]})
    db.dispose()

    db = opener()
    calls = full_reads(monkeypatch)
    table = _table(db)
    assert calls == [1]
    assert ids[2] not in table.trace.tolist() and len(table) == 10
    # ann's legitimate and bob's suspected_distillation label on that trace are gone.
    assert progress(db, "P", lead=LEAD).verdicts == {"legitimate": 8, "suspected_distillation": 2}


def test_a_snapshot_of_another_history_is_not_used(
    cache: Path, opener: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup restored over the database has the same identity; labels written after the
    restore reach the snapshot's ids, but the rows at its frontier are others."""
    db = opener()
    ids = _labeled_world(db)
    _table(db)
    flush_snapshots(db)  # creates the identity, so the backup has it
    db.dispose()
    shutil.copy(tmp_path / "snap.db", tmp_path / "backup.db")

    db = opener()
    ann = LabelingService(db, "P", "ann")
    for trace_id in ids[6:9]:
        ann.submit(trace_id, _label("legitimate"), 10.0)
    _table(db)
    assert flush_snapshots(db, force=True) == 1
    db.dispose()

    shutil.copy(tmp_path / "backup.db", tmp_path / "snap.db")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"snap.db{suffix}").unlink(missing_ok=True)
    db = opener()
    bob = LabelingService(db, "P", "bob")
    for trace_id in ids[6:9]:
        bob.submit(trace_id, _label("suspected_distillation"), 10.0)
    calls = full_reads(monkeypatch)
    table = _table(db)
    assert calls == [1]
    assert _decoded(table) == _decoded(_fresh_full_read(db))
    # The backup's 9 + 3, then bob's three: none of ann's three after the backup.
    assert progress(db, "P", lead=LEAD).verdicts == {"legitimate": 9, "suspected_distillation": 6}


def test_a_snapshot_of_another_database_or_project_is_not_used(
    cache: Path, opener: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = opener()
    _labeled_world(db)
    make_project(db, "Q", n=2)
    _table(db)
    flush_snapshots(db)
    with db.session() as session:
        ours = label_snapshot.read_identity(session.connection())
        q_id = get_project(session, "Q").id
        p_id = get_project(session, "P").id
    assert ours is not None
    source = label_snapshot.snapshot_path(cache, ours, p_id)
    # Project P's file under project Q's name.
    shutil.copy(source, label_snapshot.snapshot_path(cache, ours, q_id))
    calls = full_reads(monkeypatch)
    lt.clear_cache()
    assert len(_table(db, "Q")) == 0 and calls == [1]
    db.dispose()

    # Another database given this file under its own identity.
    other = open_db(tmp_path / "other.db")
    try:
        _labeled_world(other)
        theirs = label_snapshot.ensure_identity(other)
        assert theirs != ours
        shutil.copy(source, label_snapshot.snapshot_path(cache, theirs, p_id))
        lt.clear_cache()
        table = _table(other)
        assert calls == [1, 1]
        assert _decoded(table) == _decoded(_fresh_full_read(other))
    finally:
        other.dispose()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bad code", "generation"])
@pytest.mark.parametrize("changed_since", [False, True], ids=["unchanged", "changed since"])
def test_a_damaged_or_outdated_snapshot_falls_back_to_a_full_read(
    damage: str, changed_since: bool, cache: Path, opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with labels changed since the file was written: the changed rows are read while
    the arrays are decoded, and a damaged body found then still means a full read."""
    db = opener()
    ids = _labeled_world(db)
    _table(db)
    flush_snapshots(db)
    if changed_since:
        LabelingService(db, "P", "bob").submit(ids[2], _label("cannot_determine"), 9.0)
    expected = _decoded(_fresh_full_read(db))
    (path,) = cache.iterdir()
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-200])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "bad code":
        table = _table(db)
        broken = np.array(table.status)
        broken[0] = len(table.statuses)  # a status code no vocabulary entry has
        arrays = {name: getattr(table, name) for name in lt._ARRAYS} | {"status": broken}
        found = label_snapshot.read_arrays(path)
        assert found is not None
        label_snapshot.write_arrays(path, arrays, found[1])
    else:  # the database schema was upgraded since
        monkeypatch.setattr(label_snapshot, "schema_generation", lambda _c: "a newer revision")
    db.dispose()

    db = opener()
    calls = full_reads(monkeypatch)
    assert _decoded(_table(db)) == expected
    assert calls == [1]


def test_a_snapshot_replaced_after_its_header_was_read_is_not_used(
    cache: Path, opener: Opener
) -> None:
    """The header is read first and the arrays on a thread: arrays of another state (a newer
    file written in between by another process) are not merged under the old header."""
    db = opener()
    ids = _labeled_world(db)
    _table(db)
    flush_snapshots(db)
    with db.session() as session:
        connection = session.connection()
        header = lt._snapshot_header(connection, get_project(session, "P").id, cache)
    assert header is not None
    assert lt._snapshot_table(header) is not None
    LabelingService(db, "P", "ann").submit(ids[8], _label("legitimate"), 2.0)
    _table(db)
    assert flush_snapshots(db, force=True) == 1
    assert lt._snapshot_table(header) is None
    db.dispose()


def test_an_assignment_snapshot_is_not_used_after_a_reassign(cache: Path, opener: Opener) -> None:
    db = opener()
    _labeled_world(db)
    before = {p.name: p.assigned for p in progress(db, "P", lead=LEAD).labelers}
    assert before == {"ann": 10, "bob": 10, "cy": 0, "lena": 0}
    flush_snapshots(db)
    reassign(db, "P", from_labeler="bob", to_labeler="cy", assigned_by=LEAD)
    db.dispose()

    db = opener()
    after = {p.name: p.assigned for p in progress(db, "P", lead=LEAD).labelers}
    assert after == {"ann": 10, "bob": 6, "cy": 4, "lena": 0}


def test_snapshots_are_rewritten_when_due(
    cache: Path, opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = opener()
    ids = _labeled_world(db)
    _table(db)
    assert lt.flush_snapshots(db) == 1
    ann = LabelingService(db, "P", "ann")
    ann.submit(ids[9], _label("legitimate"), 10.0)
    _table(db)
    assert lt.flush_snapshots(db) == 0  # one change: not worth a rewrite yet
    monkeypatch.setattr(lt, "SAVE_AFTER", 4)
    ann.submit(ids[8], _label("legitimate"), 10.0)
    _table(db)
    assert lt.flush_snapshots(db) == 1  # two labels, two events since the file
    ann.submit(ids[7], _label("legitimate"), 10.0)
    _table(db)
    assert lt.flush_snapshots(db) == 0
    assert lt.flush_snapshots(db, force=True) == 1  # e.g. the dashboard closes
    assert [p.suffix for p in cache.iterdir()] == [".snapshot"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "labels-x-1.snapshot"
    label_snapshot.write_arrays(path, {"ids": np.arange(5)}, {"project": 1})
    old = path.read_bytes()

    def failing(*_args: object, **_kwargs: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(label_snapshot, "_padded", failing)
    with pytest.raises(OSError, match="disk full"):
        label_snapshot.write_arrays(path, {"ids": np.arange(9)}, {"project": 1})
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    found = label_snapshot.read_arrays(path)
    assert found is not None
    arrays, meta = found
    assert arrays["ids"].tolist() == [0, 1, 2, 3, 4] and arrays["ids"].dtype == np.int64
    assert meta["project"] == 1


def test_integers_are_stored_in_the_smallest_type_that_holds_them() -> None:
    assert label_snapshot.compact(np.array([0, 3, -1])).dtype == np.int8
    assert label_snapshot.compact(np.array([0, 40_000])).dtype == np.int32
    assert label_snapshot.compact(np.array([lt.NO_TIME, 5])).dtype == np.int64
    assert label_snapshot.compact(np.array([1.5])).dtype == np.float64
