"""``annotator db backup`` and ``annotator db check``: a consistent copy while the app may be
running, and a health report a user can act on.

What counts as a problem: corruption (``PRAGMA integrity_check``, the FTS5 structure check),
broken references (foreign keys, rows whose project differs from their trace's), a schema revision
other than this code's head, search entries of deleted traces. Traces still waiting for the
deferred search indexer are normal, not a problem: they are reported as a note."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from annotator.store.database import SEARCH_SHARD_LIST, Database, search_file_of
from annotator.store.errors import BackupError
from annotator.store.open import one_line, online_backup, sqlite_path
from annotator.store.revisions import head_revision, revision_of
from annotator.store.search import stale_index_entries, unindexed_count

MAX_REPORTED = 20
"""Lines of ``integrity_check`` output kept: past a few, more say nothing new."""

_TRACE_CHILDREN = (
    "assignments",
    "labels",
    "label_events",
    "adjudications",
    "suggestions",
    "comments",
)
"""Tables whose rows carry both ``trace_id`` and ``project_id``; the two must agree."""


def backup_database(db: Database, dest: Path | str, *, overwrite: bool = False) -> Path:
    """Copy a SQLite database to ``dest`` (a file, or a folder to put a dated copy in) with the
    online backup API, so the copy is consistent even while the app writes. Refuses to replace an
    existing file unless ``overwrite``; the copy appears only when complete. Returns its path.

    The search index files go beside it (``<dest>-search``, ``<dest>-search1``), so a restored
    copy is searchable at once; a copy restored without them has its index rebuilt from the
    traces."""
    if not db.is_sqlite:
        url = make_url(db.url).render_as_string(hide_password=True)
        raise BackupError(
            f"{url} is a PostgreSQL database: back it up with pg_dump "
            "(e.g. pg_dump --format=custom --file=annotator.dump DBNAME)"
        )
    source = sqlite_path(make_url(db.url))
    wants_folder = isinstance(dest, str) and dest.endswith(("/", os.sep))
    dest = Path(dest).expanduser()
    if wants_folder:  # "backups/" that does not exist yet: a folder, not a file named backups
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"cannot create {dest}: {exc.strerror}") from exc
    if dest.is_dir():
        stem = source.stem if source is not None else "annotator"
        dest = dest / f"{stem}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite3"
    dest = dest.resolve()
    if source is not None and dest == source:
        raise BackupError(f"{dest} is the database itself; choose another file")
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists; choose another name or allow overwriting")
    copies = [(s.schema, Path(search_file_of(str(dest), s))) for s in SEARCH_SHARD_LIST]
    for schema, target in [*copies, ("main", dest)]:
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            online_backup(db.engine, partial, schema)
            os.replace(partial, target)
        except OSError as exc:
            raise BackupError(f"cannot write {target}: {exc.strerror}") from exc
        finally:
            partial.unlink(missing_ok=True)
    return dest


def check_database(
    db: Database, *, notes: list[str] | None = None, migrations: Path | None = None
) -> list[str]:
    """Problems found, one sentence each; an empty list means healthy. Informational facts (how
    many traces are not searchable yet) are appended to ``notes`` when given."""
    problems: list[str] = []
    with db.engine.connect() as conn:
        if db.is_sqlite:
            problems += _sqlite_integrity(conn)
            problems += _sqlite_foreign_keys(conn)
        problems += _revision(conn, migrations)
        problems += _missing_parents(conn)
        problems += _project_mismatches(conn)
    with db.session() as session:
        stale = stale_index_entries(session)
        if stale:
            problems.append(
                f"{stale} search index entries belong to deleted traces "
                "(reset the search index to rebuild it)"
            )
        pending = unindexed_count(session)
    if db.is_sqlite:
        problems += _fts_structure(db)
    if pending and notes is not None:
        notes.append(f"{pending} traces not yet in the search index (indexing runs after imports)")
    return problems


def _sqlite_integrity(conn: Connection) -> list[str]:
    rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
    if rows == ["ok"]:
        return []
    shown = [f"integrity check: {row}" for row in rows[:MAX_REPORTED]]
    if len(rows) > MAX_REPORTED:
        shown.append(f"integrity check: {len(rows) - MAX_REPORTED} more lines")
    return shown


def _sqlite_foreign_keys(conn: Connection) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
        counts[(str(table), str(parent))] = counts.get((str(table), str(parent)), 0) + 1
    return [
        f"{n} rows in {table} point to missing rows of {parent}"
        for (table, parent), n in sorted(counts.items())
    ]


def _revision(conn: Connection, migrations: Path | None) -> list[str]:
    current, head = revision_of(conn), head_revision(migrations)
    if current == head:
        return []
    if current is None:
        return ["the database has no schema revision (not created by Trace Annotator?)"]
    return [f"the schema is at revision {current}, this version of the app expects {head}"]


def _missing_parents(conn: Connection) -> list[str]:
    """Labels and label history whose trace or annotator is gone: PostgreSQL enforces this itself,
    a SQLite file edited with foreign keys off may not."""
    problems = []
    for table in ("labels", "label_events"):
        for column, parent in (("trace_id", "traces"), ("annotator_id", "annotators")):
            n = conn.scalar(
                text(
                    f"SELECT count(*) FROM {table} c WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
                )
            )
            if n:
                problems.append(f"{n} orphan rows in {table}: their {parent} row is missing")
    return problems


def _project_mismatches(conn: Connection) -> list[str]:
    existing = set(inspect(conn).get_table_names())
    problems = []
    for table in _TRACE_CHILDREN:
        if table not in existing:
            continue
        n = conn.scalar(
            text(
                f"SELECT count(*) FROM {table} c JOIN traces t ON t.id = c.trace_id "
                "WHERE c.project_id <> t.project_id"
            )
        )
        if n:
            problems.append(f"{n} rows in {table} name a different project than their trace")
    return problems


def _fts_structure(db: Database) -> list[str]:
    """FTS5's own structure check of every index file (a contentless index cannot be compared
    with the text)."""
    for shard in SEARCH_SHARD_LIST:
        try:
            with db.session() as session:
                session.execute(
                    text(
                        f"INSERT INTO {shard.schema}.trace_fts(trace_fts, rank) "
                        "VALUES ('integrity-check', 0)"
                    )
                )
        except DBAPIError as exc:
            return [f"the search index is damaged ({one_line(exc)}); reset the search index"]
    return []
