"""`annotator init`, `annotator projects`, `annotator stats`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from annotator.cli._support import open_db, out, print_json
from annotator.cli.context import CliError


@click.command("init")
@click.option("--project", "name", required=True, metavar="NAME", help="Name of the new project.")
@click.option(
    "--schema",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Label schema (TOML or JSON) instead of the default one.",
)
@click.option(
    "--guidelines",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labeling guidelines (Markdown) instead of the default ones.",
)
@click.pass_context
def init_cmd(ctx: click.Context, name: str, schema: Path | None, guidelines: Path | None) -> None:
    """Create a project (the database is created or upgraded as needed)."""
    from annotator.domain.schema import SchemaError
    from annotator.services.projects import ProjectError, create_project

    db = open_db(ctx)
    try:
        info = create_project(db, name, schema_path=schema, guidelines_path=guidelines)
    except (ProjectError, SchemaError) as exc:
        raise CliError(str(exc)) from None
    verdicts = ", ".join(info.schema.verdict_values)
    out().print(escape(f"Created project {info.name!r} (verdicts: {verdicts})."))


@click.command("projects")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def projects_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the projects: traces, labeled traces, imports."""
    from annotator.services.stats import projects_overview

    projects = projects_overview(open_db(ctx))
    if as_json:
        print_json([p.as_dict() for p in projects])
        return
    if not projects:
        out().print("No projects yet; create one with: annotator init --project NAME")
        return
    table = Table("Project", "Traces", "Labeled", "Imports", "Last import", "Schema")
    for p in projects:
        table.add_row(
            escape(p.name),
            f"{p.traces:,}",
            f"{p.labeled_traces:,}",
            f"{p.imports:,}",
            p.last_import.strftime("%Y-%m-%d %H:%M") if p.last_import else "-",
            escape(p.schema_name),
        )
    out().print(table)


@click.command("stats")
@click.option("--project", "name", required=True, metavar="NAME", help="The project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def stats_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Counts for a project: traces by format and model, accounts, reasoning, labels, imports."""
    from annotator.services.projects import ProjectError
    from annotator.services.stats import project_stats

    try:
        stats = project_stats(open_db(ctx), name)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_json(stats.as_dict())
        return
    console = out()
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("Traces", f"{stats.traces:,}")
    summary.add_row("Accounts", f"{stats.accounts:,}")
    summary.add_row("Sessions", f"{stats.sessions:,}")
    summary.add_row(
        "With reasoning", f"{stats.with_reasoning:,} ({stats.reasoning_share:.1%} of traces)"
    )
    summary.add_row("Truncated reasoning", f"{stats.truncated:,}")
    summary.add_row("Labeled (done)", f"{stats.labeled_traces:,}")
    summary.add_row("Adjudicated", f"{stats.adjudicated_traces:,}")
    summary.add_row("Imports", f"{stats.imports:,}")
    summary.add_row("Not yet searchable", f"{stats.unindexed:,}")
    console.print(f"[bold]{escape(stats.project)}[/bold]")
    console.print(summary)
    for title, counts in (
        ("Source format", stats.by_format),
        ("Model", stats.by_model),
        ("Label status", stats.labels_by_status),
        ("Verdict", stats.labels_by_verdict),
        ("Import status", stats.imports_by_status),
    ):
        if counts:
            table = Table(title, "Count")
            for key, n in counts.items():
                table.add_row(escape(key), f"{n:,}")
            console.print(table)
