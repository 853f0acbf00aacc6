"""Full-text search: deferred indexing that resumes, queries that cannot break the FTS5 syntax,
prefixes, phrases, one project's hits only, removal from a contentless index."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.store import search as search_module
from annotator.store.codec import encode_turns
from annotator.store.database import SEARCH_SHARD_LIST, SEARCH_SHARDS, Database
from annotator.store.errors import SearchTooBroadError
from annotator.store.models import Project, TraceRow
from annotator.store.open import open_database
from annotator.store.search import (
    index_pending,
    indexed_upto,
    parse_query,
    remove_from_index,
    reset_index,
    search_trace_ids,
    stale_index_entries,
    unindexed_count,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'search.sqlite3'}")
    yield database
    database.dispose()


def add_project(session: Session, name: str) -> int:
    project = Project(name=name, schema_json="{}")
    session.add(project)
    session.flush()
    return project.id


def check_index(db: Database) -> None:
    """FTS5's own structure check of every index file."""
    with db.engine.connect() as conn:
        for shard in SEARCH_SHARD_LIST:
            conn.exec_driver_sql(
                f"INSERT INTO {shard.schema}.trace_fts(trace_fts, rank) "
                "VALUES ('integrity-check', 0)"
            )


def add_trace(session: Session, project_id: int, uid: str, answer: str, reasoning: str = "") -> int:
    blocks = [Block(kind=BlockKind.TEXT, text=answer)]
    if reasoning:
        blocks.insert(0, Block(kind=BlockKind.REASONING, text=reasoning))
    turns = (
        Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="question " + uid),)),
        Turn(role=Role.ASSISTANT, blocks=tuple(blocks)),
    )
    row = TraceRow(
        project_id=project_id, uid=uid, source_format="test", turns_json=encode_turns(turns)
    )
    session.add(row)
    session.flush()
    return row.id


def search(db: Database, project_id: int, query: str, **kwargs: int) -> list[int]:
    with db.session() as session:
        return search_trace_ids(session, project_id, query, **kwargs)


def test_traces_are_searchable_only_after_indexing(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        tid = add_trace(s, pid, "a", "The cat sat on the mat", reasoning="thinking about felines")
    assert search(db, pid, "cat") == []
    with db.session() as s:
        assert unindexed_count(s) == 1
    assert index_pending(db) == 1
    assert search(db, pid, "cat") == [tid]
    assert search(db, pid, "felines") == [tid], "reasoning text is indexed too"
    assert search(db, pid, "question") == [tid], "user turns are indexed too"
    assert search(db, pid, "CAT Mat") == [tid], "case-insensitive, all terms required"
    assert search(db, pid, "cat dog") == []
    with db.session() as s:
        assert unindexed_count(s) == 0
        assert indexed_upto(s) == tid
    assert index_pending(db) == 0


def test_diacritics_are_folded(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        tid = add_trace(s, pid, "a", "Le café est très bon")
    index_pending(db)
    assert search(db, pid, "cafe tres") == [tid]
    assert search(db, pid, "CAFÉ") == [tid]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced quote',
        "AND",
        "cat AND",
        "OR OR NOT",
        "NEAR(cat mat)",
        "cat NOT",
        "(",
        "())",
        "-cat",
        "*",
        "cat**",
        "^cat",
        "text:cat",
        "{text}: cat",
        "cat + mat",
        "'; DROP TABLE traces; --",
        "\x00",
        "日本語",
        "a" * 5000,
        " ".join(["cat"] * 500),
    ],
)
def test_hostile_queries_never_raise(db: Database, query: str) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        add_trace(s, pid, "a", "The cat sat on the mat, NEAR the door AND the text")
    index_pending(db)
    result = search(db, pid, query)
    assert isinstance(result, list)
    with db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM traces")) == 1


def test_operators_are_plain_words(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        plain = add_trace(s, pid, "a", "cat and mat")
        add_trace(s, pid, "b", "cat only")
    index_pending(db)
    assert search(db, pid, "cat AND mat") == [plain]
    assert search(db, pid, "cat OR dog") == [], "OR is a word to find, not an operator"
    assert search(db, pid, "-cat") != [], "a leading minus does not negate"
    assert search(db, pid, "text:cat") == [], "no column filter: 'text' is a word to find"


def test_empty_or_punctuation_only_query_matches_nothing(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        add_trace(s, pid, "a", "anything")
    index_pending(db)
    assert search(db, pid, "") == []
    assert search(db, pid, "  ... !!! ") == []


def test_prefix_search(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        a = add_trace(s, pid, "a", "distillation attempt")
        b = add_trace(s, pid, "b", "a distilled spirit")
        add_trace(s, pid, "c", "nothing relevant")
    index_pending(db)
    assert search(db, pid, "distil*") == [a, b]
    assert search(db, pid, "distil") == [], "without * a word must match whole"
    assert search(db, pid, "distill* attempt") == [a]


def test_phrase_search(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        a = add_trace(s, pid, "a", "please show your chain of thought")
        b = add_trace(s, pid, "b", "thought: the chain broke")
    index_pending(db)
    assert search(db, pid, "chain thought") == [a, b]
    assert search(db, pid, '"chain of thought"') == [a]
    assert search(db, pid, '"chain of thou*"') == [], "a * inside quotes is punctuation"
    assert search(db, pid, '"chain of') == [a], "an unclosed quote runs to the end"


def test_parse_query() -> None:
    terms = parse_query('foo "bar baz" quo* -- "x"')
    assert [(t.tokens, t.prefix) for t in terms] == [
        (("foo",), False),
        (("bar", "baz"), False),
        (("quo",), True),
        (("x",), False),
    ]
    assert len(parse_query(" ".join(f"w{i}" for i in range(1000)))) == 32


def test_projects_are_isolated(db: Database) -> None:
    with db.session() as s:
        p1 = add_project(s, "one")
        p2 = add_project(s, "two")
        t1 = add_trace(s, p1, "a", "shared secret word")
        t2 = add_trace(s, p2, "a", "shared secret word")
    index_pending(db)
    assert search(db, p1, "secret") == [t1]
    assert search(db, p2, "secret") == [t2]
    assert search(db, p2 + 100, "secret") == []


def test_keyset_pagination(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        other = add_project(s, "q")
        ids = []
        for i in range(25):
            ids.append(add_trace(s, pid, f"t{i}", f"needle number {i}"))
            add_trace(s, other, f"t{i}", "needle elsewhere")
    index_pending(db, batch_size=7)
    pages: list[int] = []
    after = 0
    while True:
        page = search(db, pid, "needle", limit=10, after_id=after)
        if not page:
            break
        assert len(page) <= 10
        pages.extend(page)
        after = page[-1]
    assert pages == ids


def test_resume_after_interruption(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"common word{i}") for i in range(50)]
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 20:
            cancel.set()

    # Each shard stops after the transaction it is in when the cancel comes.
    done = index_pending(db, batch_size=10, progress=progress, cancel=cancel)
    assert 20 <= done < 50
    assert seen[0] == (0, 50) and seen[-1] == (done, 50)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    found = search(db, pid, "common", limit=100)
    assert len(found) == done and set(found) <= set(ids)
    with db.session() as s:
        upto = indexed_upto(s)
        assert unindexed_count(s) == 50 - done
    assert ids[0] <= upto < ids[-1]
    assert set(range(ids[0], upto + 1)) <= set(found), "everything up to the watermark"

    # New traces arriving between runs are picked up too.
    with db.session() as s:
        late = add_trace(s, pid, "late", "common latecomer")
    assert index_pending(db, batch_size=10) == 51 - done
    assert search(db, pid, "common", limit=100) == [*ids, late]
    assert search(db, pid, "word49") == [ids[49]]


def test_the_index_merges_its_segments_less_often_and_stays_whole(db: Database) -> None:
    """Indexing sets FTS5's automerge to FTS_AUTOMERGE and its pending-terms ceiling to
    FTS_HASHSIZE (kept with the index); with one segment per committed batch the merges happen
    at that many and every trace stays findable."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"merged segment{i}") for i in range(40)]
    assert index_pending(db, batch_size=1) == 40
    with db.engine.connect() as conn:
        for shard in SEARCH_SHARD_LIST:
            settings = dict(
                conn.exec_driver_sql(f"SELECT k, v FROM {shard.schema}.trace_fts_config").all()
            )
            assert settings["automerge"] == search_module.FTS_AUTOMERGE
            assert settings["hashsize"] == search_module.FTS_HASHSIZE
    check_index(db)
    assert search(db, pid, "merged", limit=100) == ids
    assert search(db, pid, '"merged segment39"') == [ids[39]]
    # Set once: a second run leaves the setting (and the index) as they are.
    with db.session() as s:
        late = add_trace(s, pid, "late", "merged late")
    assert index_pending(db) == 1
    assert search(db, pid, "merged", limit=100) == [*ids, late]


def test_a_crash_mid_batch_leaves_the_watermark_behind(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watermark moves in its batch's transaction: a crash mid-batch re-does the batch, and
    stops the other shards after their current batch."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"word number{i}") for i in range(12)]
    real = search_module.search_text_of

    def crash_on_the_seventh(turns_json: bytes) -> str:
        if b"number6" in turns_json:
            raise RuntimeError("power cut")
        return real(turns_json)

    monkeypatch.setattr(search_module, "search_text_of", crash_on_the_seventh)
    with pytest.raises(RuntimeError, match="power cut"):
        index_pending(db, batch_size=3)
    found = search(db, pid, "word", limit=100)
    assert ids[6] not in found
    with db.session() as s:
        assert indexed_upto(s) < ids[6]
        assert unindexed_count(s) == 12 - len(found)
    monkeypatch.setattr(search_module, "search_text_of", real)
    assert index_pending(db, batch_size=3) == 12 - len(found)
    assert search(db, pid, "word", limit=100) == ids
    check_index(db)


def test_unreadable_row_does_not_block_the_index(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", "word") for i in range(3)]
        s.execute(
            text("UPDATE traces SET turns_json = :bad WHERE id = :id"),
            {"bad": b"not json", "id": ids[1]},
        )
    assert index_pending(db) == 3
    assert f"trace {ids[1]}: turns are unreadable" in caplog.text
    assert search(db, pid, "word") == [ids[0], ids[2]]
    with db.session() as s:
        assert unindexed_count(s) == 0
        # Removal regenerates the same (empty) text, so the index stays consistent.
        assert remove_from_index(s, [ids[1]]) == 1


def test_remove_from_index(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        keep = add_trace(s, pid, "keep", "alpha beta")
        gone = add_trace(s, pid, "gone", "alpha gamma")
    index_pending(db)
    with db.session() as s:
        late = add_trace(s, pid, "late", "alpha delta")  # not indexed yet
        assert remove_from_index(s, [gone, late]) == 1
        s.execute(text("DELETE FROM traces WHERE id IN (:a, :b)"), {"a": gone, "b": late})
    assert search(db, pid, "alpha") == [keep]
    assert search(db, pid, "gamma") == []
    with db.session() as s:
        assert stale_index_entries(s) == 0
        # The 'delete' carried the exact original text: no token of it is left in the raw index.
        raw = s.execute(text("SELECT rowid FROM trace_fts WHERE trace_fts MATCH 'gamma'"))
        assert raw.all() == []
    # Ids are never reused, so a new trace is indexed normally after the removal.
    with db.session() as s:
        newer = add_trace(s, pid, "newer", "alpha epsilon")
    assert newer > late
    index_pending(db)
    assert search(db, pid, "alpha") == [keep, newer]


def test_cascade_delete_leaves_stale_entries_that_reset_clears(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        add_trace(s, pid, "a", "orphaned words")
        other = add_project(s, "q")
        kept = add_trace(s, other, "b", "orphaned but kept")
    index_pending(db)
    with db.session() as s:
        s.execute(text("DELETE FROM projects WHERE id = :id"), {"id": pid})
        assert stale_index_entries(s) == 1
    assert search(db, other, "orphaned") == [kept]
    with db.session() as s:
        reset_index(s)
        assert indexed_upto(s) == 0
        assert unindexed_count(s) == 1
    assert index_pending(db) == 1
    with db.session() as s:
        assert stale_index_entries(s) == 0
    assert search(db, other, "orphaned") == [kept]


def test_search_query_walks_the_index_in_id_order(db: Database) -> None:
    """The first page must not sort every hit: FTS5 hands rows over in rowid order."""
    with db.session() as s:
        plan = " ".join(
            str(row[-1])
            for row in s.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT trace_fts.rowid FROM trace_fts "
                    "JOIN traces ON traces.id = trace_fts.rowid WHERE trace_fts MATCH 'x' "
                    "AND trace_fts.rowid > 0 AND traces.project_id = 1 "
                    "ORDER BY trace_fts.rowid LIMIT 50"
                )
            )
        )
    assert "VIRTUAL TABLE INDEX" in plan
    assert "TEMP B-TREE" not in plan, plan


def test_short_prefix_is_a_whole_word() -> None:
    assert [(t.tokens, t.prefix) for t in parse_query("a* ab* abc* x-* cat**")] == [
        (("a",), False),
        (("ab",), False),
        (("abc",), True),
        (("x",), False),
        (("cat",), True),
    ]


def test_search_past_its_time_budget_is_cancelled(db: Database) -> None:
    """Hits in another project are walked row by row: the deadline stops that walk."""
    turns = encode_turns((Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="zz"),)),))
    with db.session() as s:
        busy, small = add_project(s, "busy"), add_project(s, "small")
        s.execute(
            insert(TraceRow),
            [
                {"project_id": busy, "uid": f"t{i}", "source_format": "test", "turns_json": turns}
                for i in range(20_000)
            ],
        )
        last = add_trace(s, small, "only", "zz")
    index_pending(db, batch_size=10_000)
    with db.session() as s:
        with pytest.raises(SearchTooBroadError, match="too broad"):
            search_trace_ids(s, small, "zz", timeout_s=0.0)
        # The session is still usable, and with the default budget the same search completes.
        assert search_trace_ids(s, small, "zz") == [last]


def test_one_transaction_takes_chunks_until_its_share_of_text(db: Database) -> None:
    """``commit_chars`` groups the chunks read ahead into one commit (one FTS5 segment)."""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"grouped item{i}") for i in range(50)]
    seen: list[tuple[int, int]] = []
    indexed = index_pending(
        db, batch_size=10, commit_chars=10**9, progress=lambda d, t: seen.append((d, t))
    )
    assert indexed == 50
    assert seen == [(0, 50), (25, 50), (50, 50)], "one commit per shard for all five chunks"
    assert SEARCH_SHARDS == 2 and ids == list(range(ids[0], ids[0] + 50))
    with db.session() as s:
        assert indexed_upto(s) == ids[-1]
    assert search(db, pid, "grouped", limit=100) == ids
    # A share of text smaller than a chunk: one chunk per commit.
    with db.session() as s:
        late = [add_trace(s, pid, f"late{i}", "grouped late") for i in range(25)]
    seen.clear()
    assert (
        index_pending(db, batch_size=10, commit_chars=1, progress=lambda d, t: seen.append((d, t)))
        == 25
    )
    # Chunks of ten traces, each shard indexing its own five (or fewer at the end).
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(seen))
    per_shard = sorted(
        sum(1 for i in late[k : k + 10] if i % 2 == p) for k in (0, 10, 20) for p in (0, 1)
    )
    assert steps == [n for n in per_shard if n]
    assert seen[-1] == (25, 25)
    assert search(db, pid, "late", limit=100) == late


def test_chunks_read_ahead_are_dropped_when_another_indexer_moved_on(db: Database) -> None:
    """Between two commits another indexer indexes everything: the chunks read ahead for the
    old watermarks must not be indexed a second time. (The first indexer's shards go on while
    the second runs, so the two share the work; each trace is indexed by exactly one.)"""
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"shared word{i}") for i in range(50)]
    inner: list[int] = []

    def other_indexer_runs(done: int, _total: int) -> None:
        if done == 10 and not inner:
            inner.append(index_pending(db, batch_size=10))

    outer = index_pending(db, batch_size=10, progress=other_indexer_runs)
    assert inner and outer + inner[0] == 50
    assert search(db, pid, "shared", limit=100) == ids, "every trace exactly once"
    check_index(db)
    with db.session() as s:
        assert remove_from_index(s, ids[10:20]) == 10
    assert search(db, pid, "shared", limit=100) == ids[:10] + ids[20:]
