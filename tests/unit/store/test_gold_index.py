"""Gold items are counted and found through ``ix_traces_project_gold`` (revision 0003), never by
reading the trace rows: ``is_gold`` sits behind the large columns in each row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import case, func, select

from annotator.store.models import TraceRow
from annotator.store.open import open_database


def test_gold_queries_use_the_index(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}", backup_dir=None)
    try:
        count = select(
            func.count(), func.coalesce(func.sum(case((TraceRow.is_gold.is_(True), 1))), 0)
        ).where(TraceRow.project_id == 1)
        gold = select(TraceRow.id, TraceRow.gold_json).where(
            TraceRow.project_id == 1, TraceRow.is_gold.is_(True)
        )
        with db.engine.connect() as conn:
            plans = []
            for query in (count, gold):
                sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
                plans.append(
                    " ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                )
    finally:
        db.dispose()
    assert "COVERING INDEX ix_traces_project_gold" in plans[0]
    assert "INDEX ix_traces_project_gold (project_id=? AND is_gold=?)" in plans[1]
