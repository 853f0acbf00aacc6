"""What the project, import and db commands share: opening the database with one-line errors,
JSON output for scripts, and progress on stderr so stdout stays clean for pipes."""

from __future__ import annotations

import sys
from typing import Any, Self

import click
import orjson
from rich.console import Console

from annotator.cli.context import AppContext, CliError
from annotator.store.database import Database


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:  # a command invoked without the group (tests calling it directly)
        obj = AppContext()
        ctx.obj = obj
    return obj


def open_db(ctx: click.Context) -> Database:
    """The command's database, opened (and upgraded) once; any failure to open is one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from annotator.store.errors import StoreError

    context = app(ctx)
    try:
        db = context.database()
    except StoreError as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CliError(f"cannot open the database: {reason}") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot open the database: {exc}") from None
    root = ctx.find_root()
    if not getattr(root, "_annotator_dispose", False):
        root.call_on_close(db.dispose)
        root._annotator_dispose = True  # type: ignore[attr-defined]
    return db


def print_json(value: Any) -> None:
    """Indented, key-sorted JSON on stdout (datetimes as ISO strings)."""
    sys.stdout.write(
        orjson.dumps(
            value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        ).decode()
        + "\n"
    )


def out() -> Console:
    """Tables and messages for people, on stdout."""
    return Console(highlight=False, soft_wrap=False)


def err() -> Console:
    """Progress and notes, on stderr."""
    return Console(stderr=True, highlight=False)


class PhaseBars:
    """One transient progress bar per named phase on stderr (off when stderr is not a terminal,
    so pipes and --json stay clean)."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err(),
            transient=True,
            disable=not enabled,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, label: str, done: int, total: int) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=max(total, 1))
        self.progress.update(self.tasks[label], completed=done, total=max(total, 1))
