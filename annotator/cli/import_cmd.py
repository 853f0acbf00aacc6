"""`annotator import`: files, globs or directories into a project, with a progress bar and a
summary per file.

Exit codes: 0 everything imported (duplicates are fine), 1 some records were rejected, a file
could not be read or ``--strict`` stopped the run, 2 a usage error (unknown project or format,
missing file), 130 interrupted with Ctrl+C (committed batches are kept)."""

from __future__ import annotations

import getpass
import glob
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import filesize
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from annotator.cli._support import app, err, open_db, out, print_json
from annotator.cli.context import CliError

if TYPE_CHECKING:
    from annotator.store.database import Database

EXIT_REJECTS = 1
EXIT_INTERRUPTED = 130


def _expand(patterns: tuple[str, ...]) -> list[Path]:
    """Paths as given; patterns the shell did not expand (quoted, or Windows) are globbed here."""
    paths: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.exists():
            paths.append(path)
            continue
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                raise CliError(f"no file matches {pattern!r}")
            paths.extend(Path(m) for m in matches)
            continue
        raise CliError(f"{pattern}: no such file or directory")
    return paths


class _Amount(ProgressColumn):
    """Done/total and rate: in bytes while importing, in traces while indexing."""

    def render(self, task: Task) -> Text:
        total = int(task.total or 0)
        done = int(task.completed)
        speed = task.finished_speed or task.speed or 0.0
        if task.fields.get("unit") == "bytes":
            rate = f"{filesize.decimal(int(speed))}/s" if speed else "?/s"
            return Text(f"{filesize.decimal(done)}/{filesize.decimal(total)} {rate}")
        rate = f"{speed:,.0f}/s" if speed else "?/s"
        return Text(f"{done:,}/{total:,} traces {rate}")


class _Bar:
    """A rich progress bar on stderr: bytes with rate and ETA, then the search index."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _Amount(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=err(),
            transient=True,
            disable=not enabled,
        )
        self.task: TaskID | None = None
        self.index_task: TaskID | None = None

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, p: object) -> None:
        from annotator.services.importing import ImportProgress

        assert isinstance(p, ImportProgress)
        if p.phase == "import":
            counts = f"{p.imported:,} new, {p.duplicates:,} dup, {p.rejected:,} rejected"
            if self.task is None:
                self.task = self.progress.add_task(
                    "Importing", total=p.bytes_total, counts="", unit="bytes"
                )
            self.progress.update(
                self.task,
                completed=p.bytes_done,
                description=f"Importing {p.file_index + 1}/{p.n_files}",
                counts=counts,
            )
        else:
            if self.index_task is None:
                self.index_task = self.progress.add_task(
                    "Indexing for search", total=max(p.index_total, 1), counts="", unit="traces"
                )
            self.progress.update(
                self.index_task,
                completed=p.indexed,
                total=max(p.index_total, 1),
                counts="",
            )


@click.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option("--project", "name", required=True, metavar="NAME", help="Project to import into.")
@click.option(
    "--format",
    "format_name",
    metavar="F",
    help="Read every record with this reader instead of detecting it per record.",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad record and import nothing.")
@click.option(
    "--rejects",
    "rejects_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where reject files go (default: <data dir>/rejects).",
)
@click.option(
    "--detect/--no-detect",
    default=True,
    show_default=True,
    help="Afterwards, cluster the new prompts and refresh the heuristic suggestions they touch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def import_cmd(
    ctx: click.Context,
    files: tuple[str, ...],
    name: str,
    format_name: str | None,
    strict: bool,
    rejects_dir: Path | None,
    detect: bool,
    as_json: bool,
) -> None:
    """Import trace files (JSONL, JSON, .gz, Parquet, .traj, YAML cassettes) into a project.

    FILES may be files, directories (every readable file inside) or glob patterns. Re-importing
    a file adds nothing and reports its traces as duplicates. Bad records are listed with file
    and line and written to a reject file; the rest is imported.

    Exit status: 0 all imported, 1 some records rejected or a file unreadable (or --strict
    stopped), 2 usage error, 130 interrupted."""
    from annotator.formats.containers import FormatError
    from annotator.services.importing import IndexingInterrupted, import_files
    from annotator.services.projects import ProjectError

    paths = _expand(files)
    context = app(ctx)
    db = open_db(ctx)
    reject_dir = rejects_dir or context.paths.ensure().data / "rejects"
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = None
    try:
        with _Bar(enabled=sys.stderr.isatty()) as bar:
            summary = import_files(
                db,
                name,
                paths,
                format=format_name,
                strict=strict,
                imported_by=user,
                reject_dir=reject_dir,
                progress=bar,
            )
    except (ProjectError, FormatError) as exc:
        raise CliError(str(exc)) from None
    except IndexingInterrupted as exc:
        click.echo(
            f"annotator: indexing interrupted; all {exc.summary.imported:,} new traces are "
            "imported; the app indexes the rest for search when it opens (or the next import does)",
            err=True,
        )
        ctx.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo(
            "annotator: import interrupted; committed batches are kept and marked cancelled",
            err=True,
        )
        ctx.exit(EXIT_INTERRUPTED)
    try:
        detection = _detect_new(db, name) if detect and summary.imported else None
    except KeyboardInterrupt:
        click.echo(
            "annotator: detection interrupted; the import is complete "
            f"(annotator detect run --project {shlex.quote(name)} finishes it)",
            err=True,
        )
        ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        print_json({**summary.as_dict(), "detection": detection})
    else:
        _print_summary(summary)
        if detection is not None:
            out().print(
                f"Detection: {detection['clusters']['new_traces']:,} new prompts clustered, "
                f"{detection['suggestions']:,} suggestions refreshed."
            )
    if not summary.ok:
        ctx.exit(EXIT_REJECTS)


def _detect_new(db: Database, project: str) -> dict[str, Any]:
    """Incremental detection after an import: new prompts join existing clusters, and the
    suggestions of the traces and groups they touched are recomputed (issue 6)."""
    from annotator.cli.detect_cmds import DetectionBar
    from annotator.services.detection.groups import project_id_of
    from annotator.services.detection.suggest import run_detection

    with DetectionBar(enabled=sys.stderr.isatty()) as bar:
        run = run_detection(
            db,
            project_id_of(db, project),
            full=False,
            cluster_progress=bar.cluster,
            suggest_progress=bar.suggest,
        )
    return run.as_dict()


def _shown(file: str) -> str:
    """A path as short as it can be read: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith("..") else relative


def _print_summary(summary: object) -> None:
    from annotator.services.importing import ImportSummary

    assert isinstance(summary, ImportSummary)
    console = out()
    table = Table("Format", "Records", "New", "Duplicates", "Rejected", "Status")
    table.columns.insert(0, Column("File", overflow="fold", ratio=1))
    for f in summary.files:
        table.add_row(
            escape(_shown(f.file)),
            escape(", ".join(f.formats) or "-"),
            f"{f.records:,}",
            f"{f.imported:,}",
            f"{f.duplicates:,}",
            f"{f.rejected:,}",
            escape(f.status),
        )
    if len(summary.files) > 1:
        table.add_row(
            "[bold]Total[/bold]",
            "",
            f"{summary.records:,}",
            f"{summary.imported:,}",
            f"{summary.duplicates:,}",
            f"{summary.rejected:,}",
            "",
        )
    console.print(table)
    for f in summary.files:
        if f.error:
            console.print(escape(f"Could not read {f.error}"))
        for line in f.errors:
            console.print(escape(f"  {line}"))
        if f.rejected > len(f.errors):
            console.print(f"  ... and {f.rejected - len(f.errors):,} more")
        if f.reject_file:
            console.print(escape(f"Rejected records of {f.file}: {f.reject_file}"))
        if f.seen_before and f.imported == 0:
            console.print(escape(f"{f.file} was imported before; nothing new in it."))
    if summary.stopped:
        console.print(escape(f"--strict: stopped at {summary.stopped}; nothing was imported."))
    elif summary.cancelled:
        console.print("Cancelled; committed batches are kept.")
    elif summary.imported == 0 and summary.duplicates:
        console.print(
            f"Nothing new: all {summary.duplicates:,} traces were already in {summary.project!r}."
        )
    else:
        console.print(
            escape(
                f"Imported {summary.imported:,} traces into {summary.project!r} in "
                f"{summary.import_seconds:.1f} s; searchable {summary.index_seconds:.1f} s later."
            )
        )
