"""`annotator db upgrade | backup | check | info`: the database itself."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from annotator.cli._support import app, open_db, out, print_json
from annotator.cli.context import CliError


@click.group("db")
def db_group() -> None:
    """Upgrade, back up, check or describe the database (--db / ANNOTATOR_DB picks which)."""


def _revision_before(url: str) -> str | None:
    """The revision a database is at before it is opened (None: new, or not readable yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    from annotator.store.database import make_engine
    from annotator.store.open import sqlite_path
    from annotator.store.revisions import revision_of

    try:
        from sqlalchemy.engine import make_url

        sa_url = make_url(url)
        path = sqlite_path(sa_url)
        if path is not None and not path.exists():
            return None
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError, ImportError):
        return None
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


@db_group.command("upgrade")
@click.pass_context
def upgrade_cmd(ctx: click.Context) -> None:
    """Bring the database to the newest schema (a copy is kept first when it is upgraded)."""
    from annotator.store.revisions import current_revision

    before = _revision_before(app(ctx).url)
    db = open_db(ctx)
    after = current_revision(db)
    if before == after:
        out().print(f"Database already at the newest revision ({after}).")
    elif before is None:
        out().print(f"Created the database at revision {after}.")
    else:
        out().print(f"Upgraded the database from revision {before} to {after}.")


@db_group.command("backup")
@click.argument("dest", type=click.Path(), metavar="PATH")
@click.pass_context
def backup_cmd(ctx: click.Context, dest: str) -> None:
    """Copy the database to PATH (a file, or a directory to put a dated copy in; a PATH ending
    in / is created as one) while it may be in use. Its search index files are copied beside it
    (PATH-search, PATH-search1); without them a restored copy rebuilds its index."""
    from annotator.store.database import search_files_of
    from annotator.store.errors import StoreError
    from annotator.store.maintenance import backup_database

    db = open_db(ctx)
    try:
        written = backup_database(db, dest)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    index = ", ".join(search_files_of(str(written)))
    out().print(escape(f"Backed up to {written} (search index: {index})"))


@db_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def check_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check integrity, foreign keys, schema revision and the search index. Exit 1 on problems."""
    from annotator.store.errors import StoreError
    from annotator.store.maintenance import check_database

    db = open_db(ctx)
    notes: list[str] = []
    try:
        problems = check_database(db, notes=notes)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_json({"ok": not problems, "problems": problems, "notes": notes})
    else:
        console = out()
        for problem in problems:
            console.print(escape(f"problem: {problem}"))
        for note in notes:
            console.print(escape(f"note: {note}"))
        if not problems:
            console.print("Database OK.")
    if problems:
        ctx.exit(1)


@db_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def info_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show which database is used, its schema revision and what it holds."""
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url

    from annotator.store.models import Project, TraceRow
    from annotator.store.open import describe, sqlite_path
    from annotator.store.revisions import current_revision, head_revision
    from annotator.store.search import unindexed_count

    db = open_db(ctx)
    url = make_url(db.url)
    path = sqlite_path(url)
    with db.session() as session:
        projects = session.scalar(select(func.count()).select_from(Project)) or 0
        traces = session.scalar(select(func.count()).select_from(TraceRow)) or 0
        unindexed = unindexed_count(session)
    info: dict[str, Any] = {
        "url": describe(url),
        "dialect": db.engine.dialect.name,
        "revision": current_revision(db),
        "head": head_revision(),
        "file": str(path) if path else None,
        "size_bytes": path.stat().st_size if path and path.exists() else None,
        "projects": projects,
        "traces": traces,
        "unindexed": unindexed,
    }
    if as_json:
        print_json(info)
        return
    console = out()
    for key, value in info.items():
        if value is not None:
            console.print(escape(f"{key:>11}: {value}"))
