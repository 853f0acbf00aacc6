"""Dashboard refresh on 1M labels (333,334 items x 3 labelers, each item assigned to all three),
timed from the window as the lead sees it (progress, agreement and detector jobs in parallel off
the GUI thread, then the drawing): the first open ever (every label read and parsed), a refresh
with nothing changed, a refresh after a few hundred submits, the first open of a new process
with the label snapshot the last one left (a fresh Database: no in-memory caches), and the
first open after a day of team work (20,000 relabels) since that snapshot, and the first open
on a machine without snapshots after the lead's window warmed the tables up in the background
(``progress.warm_up``). Also the two service calls alone, and the drawing on the GUI thread.
Target: refresh under 500 ms.

Run with ``pytest -s -m benchmark tests/benchmarks/test_bench_dashboard.py``."""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from annotator.domain.label import Label
from annotator.resources import default_schema
from annotator.services import label_table
from annotator.services.agreement import agreement_report
from annotator.services.label_snapshot import use_snapshots
from annotator.services.label_table import clear_cache
from annotator.services.labeling import LabelingService
from annotator.services.progress import progress, warm_up
from annotator.services.projects import add_member, create_project
from annotator.store.database import Database
from annotator.store.open import open_database

pytestmark = pytest.mark.benchmark

N_ITEMS = 333_334
LABELERS = ("ann", "bob", "cy")
LEAD = "lena"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
TARGET = 0.5
CHANGED = 200
"""Labels submitted through the labeling service between two refreshes."""
DAY_OF_WORK = 20_000
"""Relabels written between the snapshot and the next process's first open."""
REPEATS = 5
"""New processes timed per first-open case (the median is reported: one open on a shared VM
varies by a factor of 1.5)."""


def _fill(path: Path) -> int:
    """A project with N_ITEMS x 3 submitted labels (80% agreement, tags, spans, 30 days);
    returns the number of labels."""
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    try:
        create_project(db, "B")
        for who in (LEAD, *LABELERS):
            add_member(db, "B", who, "lead" if who == LEAD else "labeler")
    finally:
        db.dispose()
    rng = np.random.default_rng(5)
    schema = default_schema()
    verdicts = list(schema.verdict_values)
    tags = [t.name for t in schema.evidence_tags]
    counter = [t.name for t in schema.counter_tags]
    truth = rng.integers(0, len(verdicts), N_ITEMS)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        ids = dict(con.execute("SELECT name, id FROM annotators").fetchall())
        con.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, n_turns, reasoning_chars, "
            "truncated_count, preview, meta_extra, turns_json, is_gold, imported_at) "
            "VALUES (?, 1, ?, 'sharegpt', 1, 0, 0, '', '{}', x'5b5d', 0, '2026-01-01')",
            ((i, f"t{i}") for i in range(1, N_ITEMS + 1)),
        )
        n = 0
        for j, who in enumerate(LABELERS):
            aid = ids[who]
            con.executemany(
                "INSERT INTO assignments(project_id, trace_id, annotator_id, position, "
                "assigned_by, assigned_at) VALUES (1, ?, ?, ?, 'lena', '2026-03-01')",
                ((i, aid, i) for i in range(1, N_ITEMS + 1)),
            )
            agree = rng.random(N_ITEMS) < 0.8
            other = rng.integers(0, len(verdicts), N_ITEMS)
            tag = rng.integers(0, len(tags), N_ITEMS)
            pick = rng.random(N_ITEMS) < 0.6
            ctag = rng.integers(0, len(counter), N_ITEMS)
            pick_c = rng.random(N_ITEMS) < 0.2
            seconds = rng.gamma(2.0, 30.0, N_ITEMS)
            minutes = rng.integers(0, 30 * 24 * 60, N_ITEMS)

            def rows(
                aid: int = aid,
                j: int = j,
                agree: np.ndarray = agree,
                other: np.ndarray = other,
                tag: np.ndarray = tag,
                pick: np.ndarray = pick,
                ctag: np.ndarray = ctag,
                pick_c: np.ndarray = pick_c,
                seconds: np.ndarray = seconds,
                minutes: np.ndarray = minutes,
            ) -> Iterator[tuple[object, ...]]:
                for i in range(N_ITEMS):
                    verdict = verdicts[truth[i] if agree[i] else other[i]]
                    label = {
                        "verdict": verdict,
                        "tags": [tags[tag[i]]] if pick[i] else [],
                        "counter_tags": [counter[ctag[i]]] if pick_c[i] else [],
                        "confidence": 2,
                        "rationale": "",
                        "spans": [{"turn": 1, "block": 0, "start": 10, "end": 50 + j, "text": ""}]
                        if i % 3 == 0
                        else [],
                    }
                    at = (T0 + timedelta(minutes=int(minutes[i]))).isoformat()
                    yield (i + 1, aid, verdict, orjson.dumps(label).decode(), float(seconds[i]), at)

            con.executemany(
                "INSERT INTO labels(project_id, trace_id, annotator_id, status, verdict, "
                "label_json, seconds_spent, schema_version, with_suggestions, updated_at, "
                "submitted_at) VALUES (1, ?, ?, 'done', ?, ?, ?, 1, 0, ?, ?)",
                ((t, a, v, js, s, at, at) for t, a, v, js, s, at in rows()),
            )
            n += N_ITEMS
        con.commit()
        con.execute("ANALYZE")
    finally:
        con.close()
    return n


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dash") / "dashboard.sqlite3"
    t0 = time.perf_counter()
    n = _fill(path)
    print(f"\n[dashboard bench] {n:,} labels written in {time.perf_counter() - t0:.1f} s")
    return path


def _best(fn: object, runs: int = 3) -> tuple[float, list[float], object]:
    timings, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()  # type: ignore[operator]
        timings.append(time.perf_counter() - t0)
    return min(timings), timings, result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _submit_some(db: Database, round_: int) -> None:
    """``CHANGED`` relabels by ann through the service (row updated in place + event)."""
    service = LabelingService(db, "B", "ann")
    verdicts = list(default_schema().verdict_values)
    for i in range(CHANGED):
        trace_id = 1 + (round_ * 7919 + i * 1597) % N_ITEMS
        service.submit(trace_id, Label(verdict=verdicts[i % 2], confidence=2), 3.0)


def _day_of_work(path: Path) -> None:
    """``DAY_OF_WORK`` relabels spread over the three labelers, written as the labeling service
    writes a submit (the label row updated in place, one event appended), in bulk: the service
    itself would take minutes for 20,000."""
    verdicts = list(default_schema().verdict_values)
    rng = np.random.default_rng(11)
    traces = rng.choice(np.arange(1, N_ITEMS + 1), size=DAY_OF_WORK, replace=False)
    at = (T0 + timedelta(days=31)).isoformat()
    con = sqlite3.connect(path)
    try:
        ids = dict(con.execute("SELECT name, id FROM annotators").fetchall())
        rows = []
        for k, trace in enumerate(traces.tolist()):
            verdict = verdicts[k % len(verdicts)]
            label = orjson.dumps(
                {"verdict": verdict, "tags": [], "counter_tags": [], "confidence": 2, "spans": []}
            ).decode()
            rows.append((verdict, label, ids[LABELERS[k % 3]], trace))
        con.executemany(
            "UPDATE labels SET status = 'done', verdict = ?, label_json = ?, seconds_spent = 4.0, "
            f"updated_at = '{at}', submitted_at = '{at}' WHERE annotator_id = ? AND trace_id = ?",
            rows,
        )
        con.executemany(
            "INSERT INTO label_events(project_id, trace_id, annotator_id, action, status, verdict, "
            "label_json, seconds_spent, schema_version, with_suggestions, created_at) "
            f"VALUES (1, ?, ?, 'submit', 'done', ?, ?, 4.0, 1, 0, '{at}')",
            ((trace, aid, verdict, label) for verdict, label, aid, trace in rows),
        )
        con.commit()
    finally:
        con.close()


def test_dashboard_refresh_on_a_million_labels(
    big_db: Path, tmp_path: Path, qtbot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import Qt, QTimer

    from annotator.gui.background import Background
    from annotator.gui.lead.dashboard import DashboardWindow

    url = f"sqlite:///{big_db}"
    use_snapshots(tmp_path / "cache")
    full_reads: list[int] = []
    real_full = label_table._full

    def counted_full(*args: object) -> object:
        full_reads.append(1)
        return real_full(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(label_table, "_full", counted_full)
    bg = Background()
    ticks = 0
    dbs: list[Database] = []
    saves: list[float] = []
    """Per timed refresh, the wait for the snapshot write after it."""

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    def timed(start: object) -> tuple[float, int, DashboardWindow]:
        """Wall time until the refresh that ``start`` begins (opening a window or refreshing
        one) has been drawn, and GUI timer ticks of 20 ms meanwhile; then waits, untimed, for
        the snapshot write that may follow a refresh."""
        nonlocal ticks
        ticks = 0
        timer = QTimer(interval=20)
        timer.timeout.connect(tick)
        timer.start()
        t0 = time.perf_counter()
        window: DashboardWindow = start()  # type: ignore[operator]
        qtbot.waitUntil(lambda: not window.refreshing, timeout=120_000)  # type: ignore[attr-defined]
        wall = time.perf_counter() - t0
        timer.stop()
        t1 = time.perf_counter()
        qtbot.waitUntil(lambda: not window.saving, timeout=120_000)  # type: ignore[attr-defined]
        saves.append(time.perf_counter() - t1)
        return wall, ticks, window

    def new_process() -> Database:
        """A fresh Database: none of the in-memory caches (they are per engine). The earlier
        ones are let go first, as a new process would not have their tables in memory."""
        for old in dbs:
            old.dispose()
        dbs.clear()
        gc.collect()
        db = open_database(url, backup_dir=None)
        dbs.append(db)
        return db

    def open_window(db: Database) -> DashboardWindow:
        window = DashboardWindow(bg, db, "B", lead=LEAD)
        # As the Lead menu opens it: deleted when closed, with what it holds.
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        return window

    def refresh(window: DashboardWindow) -> DashboardWindow:
        window.refresh()
        return window

    def close(window: DashboardWindow) -> None:
        """Close (which writes the snapshot if the table changed since) and wait for it."""
        window.close()
        qtbot.waitUntil(lambda: bg.pending == 0, timeout=120_000)  # type: ignore[attr-defined]

    try:
        clear_cache()
        db = new_process()
        cold_wall, cold_ticks, window = timed(lambda: open_window(db))
        assert window.data is not None
        data = window.data
        draw_best, draw_runs, _ = _best(lambda: window.draw(data))
        warm_wall, warm_ticks, _ = timed(lambda: refresh(window))
        p_best, p_runs, _ = _best(lambda: progress(db, "B", lead=LEAD))
        a_best, a_runs, _ = _best(lambda: agreement_report(db, "B", lead=LEAD, bootstrap=0))
        _submit_some(db, 0)
        p_inc, _, _ = _best(lambda: progress(db, "B", lead=LEAD), runs=1)
        a_inc, _, _ = _best(lambda: agreement_report(db, "B", lead=LEAD, bootstrap=0), runs=1)
        _submit_some(db, 1)
        inc_wall, inc_ticks, _ = timed(lambda: refresh(window))
        close(window)
        expected = window.data

        snapshots = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
        assert snapshots == ["assignments", "labels"]
        size = sum(p.stat().st_size for p in (tmp_path / "cache").iterdir())
        assert len(full_reads) == 1  # the first open; the rest merged what changed
        snap_runs: list[tuple[float, int]] = []
        for _ in range(REPEATS):
            del window, db  # a new process has none of this one's caches
            db = new_process()
            wall, ticks_, window = timed(lambda db=db: open_window(db))
            snap_runs.append((wall, ticks_))
            # The same numbers as the window the snapshot was written from.
            assert window.data is not None and expected is not None
            assert window.data.progress == expected.progress
            assert window.data.agreement.as_dict() == expected.agreement.as_dict()
            close(window)

        t0 = time.perf_counter()
        _day_of_work(big_db)
        day_write = time.perf_counter() - t0
        kept = {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir()}
        day_runs: list[tuple[float, int]] = []
        for _ in range(REPEATS):
            # Each run finds the snapshot written before the day's work (the previous run's
            # close wrote a newer one).
            for name, content in kept.items():
                (tmp_path / "cache" / name).write_bytes(content)
            del window, db  # a new process has none of this one's caches
            db = new_process()
            wall, ticks_, window = timed(lambda db=db: open_window(db))
            day_runs.append((wall, ticks_))
            assert window.data is not None
            done = sum(p.done for p in window.data.progress.labelers)
            assert done == 3 * N_ITEMS  # relabels of submitted labels: still one label each
            close(window)
        assert len(full_reads) == 1  # all later opens: the snapshot and what changed since
        snap_wall, snap_ticks = sorted(snap_runs)[REPEATS // 2]
        day_wall, day_ticks = sorted(day_runs)[REPEATS // 2]

        # A lead's window warms the tables up in the background when the project opens
        # (gui.lead.warm_up); on a machine without snapshots the dashboard opened afterwards
        # finds them ready.
        for stale in (tmp_path / "cache").iterdir():
            stale.unlink()
        del window, db
        db = new_process()
        t0 = time.perf_counter()
        warm_up(db, "B", lead=LEAD)
        warm_up_s = time.perf_counter() - t0
        assert len(full_reads) == 2
        warmed_wall, warmed_ticks, window = timed(lambda db=db: open_window(db))
        assert window.data is not None
        assert len(full_reads) == 2  # the dashboard read nothing again
        close(window)
    finally:
        bg.shutdown(60_000)
        for each in dbs:
            each.dispose()
        use_snapshots(None)
    fmt = ", ".join

    def verdict(wall: float) -> str:
        return "met" if wall < TARGET else "MISSED"

    print(
        f"\n[dashboard, {3 * N_ITEMS:,} labels; target {ms(TARGET)}]"
        f"\n  progress()              unchanged best {ms(p_best)} "
        f"({fmt(f'{t * 1000:.0f}' for t in p_runs)}), after {CHANGED} submits {ms(p_inc)}"
        f"\n  agreement_report(b=0)   unchanged best {ms(a_best)} "
        f"({fmt(f'{t * 1000:.0f}' for t in a_runs)}), after {CHANGED} submits {ms(a_inc)}"
        f"\n  draw on the GUI thread  best {draw_best * 1000:.1f} ms "
        f"({fmt(f'{t * 1000:.1f}' for t in draw_runs)})"
        f"\n  refresh from the window (parallel jobs, wall; GUI ticks of 20 ms meanwhile):"
        f"\n    first open ever (no snapshot)  {ms(cold_wall):>8} ({cold_ticks} ticks) "
        f"{verdict(cold_wall)}  [then the snapshot written in {ms(saves[0])}]"
        f"\n    the same after the lead's window warmed up (no snapshot before; "
        f"{warm_up_s:.1f} s in the background)  {ms(warmed_wall):>8} ({warmed_ticks} ticks) "
        f"{verdict(warmed_wall)}"
        f"\n    unchanged                      {ms(warm_wall):>8} ({warm_ticks} ticks) "
        f"{verdict(warm_wall)}"
        f"\n    after {CHANGED} submits              {ms(inc_wall):>8} ({inc_ticks} ticks) "
        f"{verdict(inc_wall)}"
        f"\n    first open with the snapshot   {ms(snap_wall):>8} ({snap_ticks} ticks) "
        f"{verdict(snap_wall)}  [{size / 1e6:.0f} MB of files]"
        f"\n    first open, {DAY_OF_WORK:,} relabels since  {ms(day_wall):>8} ({day_ticks} ticks) "
        f"{verdict(day_wall)}  [written in {day_write:.1f} s]"
        f"\n    (first opens: median of {REPEATS} new processes; all runs: snapshot "
        f"{fmt(f'{w * 1000:.0f}' for w, _ in snap_runs)} ms, after the relabels "
        f"{fmt(f'{w * 1000:.0f}' for w, _ in day_runs)} ms)"
    )
    assert draw_best < 0.25
    assert cold_ticks >= int(cold_wall / 0.02) // 2  # the window kept running
    assert warm_wall < TARGET
    assert warmed_wall < cold_wall / 3  # the warm-up's tables, not a full read
    assert snap_wall < cold_wall / 3  # the snapshot, not a full read
