"""The cached label table behind progress and agreement: a refresh after labels changed through
the services sees the change (incrementally), and the merged table equals a fresh full read."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from annotator.domain.label import EvidenceSpan, Label
from annotator.services import label_table as lt
from annotator.services.agreement import agreement_report
from annotator.services.labeling import LabelingService
from annotator.services.progress import progress
from annotator.services.projects import get_project
from annotator.store.database import Database
from tests.unit.agreement.lead_world import LEAD, make_project, open_db

ARRAYS = (
    "ids",
    "trace",
    "annotator",
    "seconds",
    "when",
    "submitted",
    "span_turn",
    "span_block",
    "span_start",
    "span_end",
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "table.db")
    yield database
    database.dispose()


def _table(db: Database) -> lt.LabelTable:
    with db.session() as session:
        pid = get_project(session, "P").id
        return lt.label_table(db, session.connection(), pid)


def _decoded(table: lt.LabelTable) -> dict[str, object]:
    """The table with codes replaced by values (vocabularies may be ordered differently after
    an incremental update)."""
    out: dict[str, object] = {name: getattr(table, name).tolist() for name in ARRAYS}
    out["status"] = [table.statuses[c] for c in table.status]
    out["verdict"] = [None if c < 0 else table.verdicts[c] for c in table.verdict]
    out["tags"] = sorted(
        (int(table.ids[r]), *table.tag_vocab[c])
        for r, c in zip(table.tag_row, table.tag_code, strict=True)
    )
    out["span_row"] = [int(table.ids[r]) for r in table.span_row]
    return out


def full_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the full reads of the label table from now on (one entry per read)."""
    calls: list[int] = []
    full = lt._full

    def counting(*args: object, **kwargs: object) -> lt.LabelTable:
        calls.append(1)
        return full(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lt, "_full", counting)
    return calls


def _label(verdict: str, *tags: str, span: tuple[int, int] | None = None) -> Label:
    return Label(
        verdict=verdict,
        tags=tags,
        confidence=2,
        spans=(EvidenceSpan(turn=1, block=0, start=span[0], end=span[1]),) if span else (),
    )


def test_changes_through_the_services_are_merged_like_a_full_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_project(db, n=8)
    ann, bob = LabelingService(db, "P", "ann"), LabelingService(db, "P", "bob")
    for i in range(6):
        ann.submit(ids[i], _label("legitimate", "REASONING_ELICIT", span=(1, 9)), 20.0)
        bob.submit(ids[i], _label("legitimate" if i % 2 else "suspected_distillation"), 30.0)
    first = _table(db)
    assert len(first) == 12
    assert _table(db) is first  # unchanged: the cached table itself

    before = progress(db, "P", lead=LEAD)
    assert before.verdicts == {"legitimate": 9, "suspected_distillation": 3}
    # A relabel (row updated in place), a skip, a new label: an incremental update.
    bob.submit(ids[0], _label("legitimate", "REASONING_ELICIT", span=(3, 7)), 5.0)
    ann.skip(ids[1], 4.0)
    ann.submit(ids[7], _label("cannot_determine"), 12.0)
    with monkeypatch.context() as patch:
        patch.setattr(lt, "_full", None)  # the merge must not fall back to a full read
        merged = _table(db)
    assert merged is not first and len(merged) == 13
    lt.clear_cache()
    full = _table(db)
    assert full is not merged
    assert _decoded(merged) == _decoded(full)

    after = progress(db, "P", lead=LEAD)
    assert after.verdicts == {"legitimate": 9, "suspected_distillation": 2, "cannot_determine": 1}
    assert after.tags == {"REASONING_ELICIT": 6}
    by = {p.name: p for p in after.labelers}
    assert (by["ann"].done, by["ann"].skipped, by["bob"].done) == (6, 1, 6)
    report = agreement_report(db, "P", lead=LEAD, bootstrap=0)
    lt.clear_cache()
    assert agreement_report(db, "P", lead=LEAD, bootstrap=0).as_dict() == report.as_dict()
    assert report.verdict.n_pairable == 5


def test_a_deleted_label_forces_a_full_read(db: Database) -> None:
    ids = make_project(db, n=4)
    ann = LabelingService(db, "P", "ann")
    for trace_id in ids:
        ann.submit(trace_id, _label("legitimate"), 10.0)
    assert len(_table(db)) == 4
    with db.session() as session:
        session.execute(text("DELETE FROM labels WHERE trace_id = :t"), {"t": ids[2]})
    table = _table(db)
    assert len(table) == 3 and ids[2] not in table.trace.tolist()
    assert progress(db, "P", lead=LEAD).verdicts == {"legitimate": 3}


def test_many_changes_fall_back_to_a_full_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_project(db, n=5)
    ann = LabelingService(db, "P", "ann")
    ann.submit(ids[0], _label("legitimate"), 10.0)
    first = _table(db)
    monkeypatch.setattr(lt, "INCREMENTAL_LIMIT", 2)
    calls = full_reads(monkeypatch)
    for trace_id in ids[1:]:
        ann.submit(trace_id, _label("suspected_distillation"), 10.0)
    table = _table(db)
    assert calls == [1] and table is not first
    assert sorted(np.asarray(table.trace).tolist()) == sorted(ids)


def test_a_changed_row_below_the_newest_id_is_merged_in_id_order(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row re-created under an old id (delete, then insert with that id and an event) is
    neither an update nor an append: the general merge sorts it into place."""
    ids = make_project(db, n=4)
    ann = LabelingService(db, "P", "ann")
    for trace_id in ids:
        ann.submit(trace_id, _label("legitimate", "REASONING_ELICIT", span=(2, 5)), 10.0)
    with db.session() as session:
        row = (
            session.execute(text("SELECT * FROM labels WHERE trace_id = :t"), {"t": ids[1]})
            .mappings()
            .one()
        )
        session.execute(text("DELETE FROM labels WHERE id = :i"), {"i": row["id"]})
    assert len(_table(db)) == 3  # count changed: full read
    with db.session() as session:
        columns = ", ".join(row.keys())
        values = dict(row) | {"verdict": "suspected_distillation"}
        values["label_json"] = _label("suspected_distillation", span=(1, 4)).model_dump_json()
        session.execute(
            text(f"INSERT INTO labels ({columns}) VALUES ({', '.join(':' + c for c in row)})"),
            values,
        )
        session.execute(
            text(
                "INSERT INTO label_events (project_id, trace_id, annotator_id, action, status, "
                "verdict, label_json, seconds_spent, schema_version, with_suggestions, "
                "created_at) VALUES (:p, :t, :a, 'submit', 'done', :v, :j, 1.0, 1, 0, :c)"
            ),
            {
                "p": row["project_id"],
                "t": row["trace_id"],
                "a": row["annotator_id"],
                "v": "suspected_distillation",
                "j": values["label_json"],
                "c": row["updated_at"],
            },
        )
    with monkeypatch.context() as patch:
        patch.setattr(lt, "_full", None)
        merged = _table(db)
    assert merged.ids.tolist() == sorted(merged.ids.tolist()) and len(merged) == 4
    lt.clear_cache()
    assert _decoded(merged) == _decoded(_table(db))
    assert progress(db, "P", lead=LEAD).verdicts == {"legitimate": 3, "suspected_distillation": 1}


def test_the_column_wise_read_equals_the_loop_chunk_by_chunk(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tags and spans read column-wise in some chunks and by the loop in another (a value
    written behind the services' back over several lines), with the rows or apart from them,
    make the same table as the loop everywhere; times are the stored ones, to the second."""
    ids = make_project(db, n=10)
    ann, bob = LabelingService(db, "P", "ann"), LabelingService(db, "P", "bob")
    for i, trace_id in enumerate(ids):
        tags = ("REASONING_ELICIT", "GRADER_ROLE")[: i % 3]
        ann.submit(trace_id, _label("legitimate", *tags, span=(i, i + 5)), 20.0 + i)
        if i % 2:
            bob.submit(trace_id, _label("suspected_distillation", "TEMPLATE_AT_SCALE"), 7.5)
        else:
            bob.skip(trace_id, 3.0)
    pretty = '{\n "verdict": "legitimate",\n "tags": ["GRADER_ROLE"],\n "spans": []\n}'
    with db.session() as session:
        session.execute(
            text(
                "UPDATE labels SET label_json = :j WHERE trace_id = :t AND annotator_id = "
                "(SELECT id FROM annotators WHERE name = 'bob')"
            ),
            {"j": pretty, "t": ids[5]},
        )
        # Within half a millisecond of midnight: counted (as SQLite counts) in the next day.
        session.execute(
            text(
                "UPDATE labels SET submitted_at = '2026-03-01 23:59:59.999600' "
                "WHERE id = (SELECT min(id) FROM labels)"
            )
        )
        stored = session.execute(
            text("SELECT id, submitted_at, updated_at FROM labels ORDER BY id")
        ).all()
        pretty_id = session.execute(
            text(
                "SELECT l.id FROM labels l JOIN annotators a ON a.id = l.annotator_id "
                "WHERE l.trace_id = :t AND a.name = 'bob'"
            ),
            {"t": ids[5]},
        ).scalar_one()
    monkeypatch.setattr(lt, "_FETCH", 4)
    monkeypatch.setattr(lt, "CHOICES_CHUNK", 4)
    monkeypatch.setattr(lt, "COLUMNWISE_MIN", 10**9)
    by_loop = _table(db)
    lt.clear_cache()
    monkeypatch.setattr(lt, "COLUMNWISE_MIN", 2)
    apart = lt._reads_apart
    apart_calls: list[bool] = []
    monkeypatch.setattr(lt, "_reads_apart", lambda *a: apart_calls.append(apart(*a)) or False)
    by_columns = _table(db)  # JSON fetched with the rows, parsed chunk by chunk (PostgreSQL)
    lt.clear_cache()
    monkeypatch.setattr(lt, "_reads_apart", apart)
    by_sql = _table(db)  # JSON joined by SQLite on another connection

    assert apart_calls == [True]  # a file database with enough labels reads them apart
    assert len({id(by_loop), id(by_columns), id(by_sql)}) == 3 and len(by_sql) == 20
    assert _decoded(by_columns) == _decoded(by_loop)
    assert _decoded(by_sql) == _decoded(by_loop)
    assert (pretty_id, "tags", "GRADER_ROLE") in _decoded(by_sql)["tags"]  # type: ignore[operator]

    def epoch(value: object) -> int:
        """As SQLite's date functions count: to the nearest millisecond, then whole seconds."""
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        since = moment.replace(tzinfo=moment.tzinfo or UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        micros = since // timedelta(microseconds=1)
        return (micros + 500) // 1000 // 1000

    midnight = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert by_sql.submitted[0] == midnight == epoch(stored[0][1])
    assert by_sql.submitted.tolist() == [
        epoch(s) if s is not None else lt.NO_TIME for _, s, _ in stored
    ]
    assert by_sql.when.tolist() == [epoch(s if s is not None else u) for _, s, u in stored]


def test_tags_read_apart_attach_only_to_labels_submitted_in_the_row_read() -> None:
    """The two reads of a full read can straddle a change: tags of a label that is not
    submitted in the row read (skipped since, or new) are left out; the change moved the
    fingerprint, so the next refresh reads that label again."""
    parsed = lt._parse(
        [
            [
                (1, 10, 1, "done", "legitimate", 1.0, None, 100),
                (2, 11, 1, "skipped", None, 1.0, 100, None),
                (5, 12, 1, "done", "legitimate", 1.0, None, 100),
            ]
        ],
        apart=_finished(
            lt._Choices(
                ids=np.array([1, 2, 4, 5]),
                tag_at=np.array([0, 1, 2, 3, 3]),
                tag_code=np.array([0, 0, 1, 0, 1]),
                spans=np.array([[1, 0, 0, 1, 2], [2, 0, 0, 3, 4], [3, 1, 0, 5, 6]]),
                vocab=[("tags", "A"), ("counter_tags", "B")],
            )
        ),
    )
    table = lt._table(parsed, lt.Fingerprint(5, 0, 3, "", ""))

    assert table.ids.tolist() == [1, 2, 5]
    assert [
        (int(table.ids[r]), table.tag_vocab[c])
        for r, c in zip(table.tag_row, table.tag_code, strict=True)
    ] == [
        (1, ("tags", "A")),
        (5, ("tags", "A")),
        (5, ("counter_tags", "B")),
    ]
    assert table.span_row.tolist() == [2] and table.span_start.tolist() == [5]


def _finished(choices: lt._Choices) -> Future[lt._Choices]:
    future: Future[lt._Choices] = Future()
    future.set_result(choices)
    return future


@pytest.mark.parametrize(
    ("url", "labels", "apart"),
    [
        ("sqlite:///{tmp}/file.db", 5_000, True),
        ("sqlite:///{tmp}/file.db", 10, False),  # too few to be worth a thread
        ("sqlite://", 5_000, False),  # in memory: another connection sees another database
        ("sqlite:///:memory:", 5_000, False),
    ],
)
def test_tags_are_read_apart_only_where_another_connection_sees_the_same_labels(
    tmp_path: Path, url: str, labels: int, apart: bool
) -> None:
    from annotator.store.database import make_engine

    engine = make_engine(url.format(tmp=tmp_path))
    try:
        with engine.connect() as connection:
            fp = lt.Fingerprint(labels, 0, labels, "", "")
            assert lt._reads_apart(connection, fp) is apart
    finally:
        engine.dispose()
