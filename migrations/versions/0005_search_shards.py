"""SQLite: the full-text index is split by trace id over two files, indexed at once.

Why: FTS5 tokenises on one thread per connection, and tokenising is most of the index's cost;
with one index file per shard (``db.sqlite3-search`` holds the traces of even id,
``db.sqlite3-search1`` those of odd id, see ``annotator.store.database.SEARCH_SHARDS``) one
indexer per shard runs at once and uses both cores (200 MB of traces: 2.3-2.4 s -> 1.4-1.7 s).
An existing index holds every trace in the first file, so it is emptied here and rebuilt from
the traces by the next indexing (the window starts it at once, in the background); the search
box says how many traces are not searchable yet meanwhile. A downgrade empties both files for
the same reason. Without the attached files (offline SQL) there is nothing to do: the files
are not part of the database. PostgreSQL keeps its ``trace_search`` table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import Connection

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _empty(("search",))


def downgrade() -> None:
    _empty(("search", "search1"))


def _empty(schemas: Sequence[str]) -> None:
    if op.get_context().dialect.name != "sqlite" or context.is_offline_mode():
        return
    bind = op.get_bind()
    for schema in schemas:
        if _attached(bind, schema):
            bind.exec_driver_sql(f"INSERT INTO {schema}.trace_fts(trace_fts) VALUES ('delete-all')")
            bind.exec_driver_sql(f"DELETE FROM {schema}.search_state")


def _attached(bind: Connection, schema: str) -> bool:
    names = {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}
    if schema not in names:
        return False
    found = bind.exec_driver_sql(
        f"SELECT count(*) FROM {schema}.sqlite_master WHERE name IN ('trace_fts', 'search_state')"
    ).scalar()
    return found == 2
