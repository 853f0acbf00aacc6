"""SQLite: the full-text index moves to a file of its own, attached as ``search``.

Why: SQLite locks a whole file for writing, and an index in the database file made every write
wait while the indexer tokenised a batch (0.3-0.9 s): an import could not index what it had
stored so far, and a labeler's save waited behind the indexer (see ``annotator.store.database``).
The connection attaches ``db.sqlite3-search`` and creates ``search.trace_fts`` and
``search.search_state`` there; this revision copies the existing index into it (FTS5 keeps an
index in ordinary shadow tables, so both tables of the same definition can share their rows) with
its watermark, then drops the old table. Without the attached file (offline SQL, another engine)
the old index is dropped and the next indexing rebuilds it from the traces. PostgreSQL keeps its
``trace_search`` table: nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import Connection

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHADOWS = ("data", "idx", "docsize", "config")
_WATERMARK = "fts_indexed_upto"
_FTS = "text, content='', tokenize='unicode61 remove_diacritics 2'"


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    if not context.is_offline_mode() and _search_attached(op.get_bind()):
        _copy_main_to_search(op.get_bind())
    op.execute("DROP TABLE IF EXISTS main.trace_fts")
    op.execute(f"DELETE FROM app_state WHERE key = '{_WATERMARK}'")


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    op.execute(f"CREATE VIRTUAL TABLE main.trace_fts USING fts5({_FTS})")
    if not context.is_offline_mode() and _search_attached(op.get_bind()):
        _copy_search_to_main(op.get_bind())


def _search_attached(bind: Connection) -> bool:
    names = {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}
    if "search" not in names:
        return False
    found = bind.exec_driver_sql(
        "SELECT count(*) FROM search.sqlite_master WHERE name IN ('trace_fts', 'search_state')"
    ).scalar()
    return found == 2


def _copy_shadows(bind: Connection, source: str, target: str) -> None:
    """Replace ``target.trace_fts``'s rows with ``source``'s: the same index afterwards."""
    for shadow in _SHADOWS:
        bind.exec_driver_sql(f"DELETE FROM {target}.trace_fts_{shadow}")
        bind.exec_driver_sql(
            f"INSERT INTO {target}.trace_fts_{shadow} SELECT * FROM {source}.trace_fts_{shadow}"
        )


def _copy_main_to_search(bind: Connection) -> None:
    upto = bind.exec_driver_sql(
        f"SELECT CAST(value AS INTEGER) FROM app_state WHERE key = '{_WATERMARK}'"
    ).scalar()
    if not upto:
        return  # nothing was indexed: the new index starts empty
    _copy_shadows(bind, "main", "search")
    # The watermark names its trace; '?' when that trace is gone, so the index is rebuilt.
    bind.exec_driver_sql(
        "INSERT OR REPLACE INTO search.search_state (id, indexed_upto, indexed_trace) "
        "SELECT 1, ?, coalesce((SELECT project_id || ':' || uid FROM traces WHERE id = ?), '?')",
        (int(upto), int(upto)),
    )


def _copy_search_to_main(bind: Connection) -> None:
    upto = bind.exec_driver_sql(
        "SELECT indexed_upto FROM search.search_state WHERE id = 1"
    ).scalar()
    if not upto:
        return
    _copy_shadows(bind, "search", "main")
    bind.exec_driver_sql(
        "INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)", (_WATERMARK, str(upto))
    )
