"""`annotator export`: a labeled dataset (JSONL, CSV, Parquet or a Hugging Face folder) with a
manifest, a progress bar and a summary with per-split counts.

Exit codes: 0 written, 2 a usage error (unknown project, bad option, non-empty folder without
--overwrite), 130 interrupted with Ctrl+C (no partial file is left under a final name)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from annotator.cli._support import PhaseBars, open_db, out, print_json
from annotator.cli.context import CliError

EXIT_INTERRUPTED = 130


def _when(value: str | None, *, end: bool) -> datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise). A bare date as ``--until-date``
    includes that whole day."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"not an ISO date or date-time: {value!r} (e.g. 2025-03-31)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if end and len(value.strip()) == 10:
        parsed += timedelta(days=1)
    return parsed


class _Bar(PhaseBars):
    """Scanning then writing, on stderr."""

    def __call__(self, p: Any) -> None:
        self.update("Selecting traces" if p.phase == "scan" else "Writing", p.done, p.total)


@click.command("export")
@click.option("--project", "project", required=True, metavar="P", help="Project to export.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet", "hf"]),
    default="jsonl",
    show_default=True,
    help="hf: a Hugging Face datasets folder (Parquet data files plus a README card).",
)
@click.option(
    "--view",
    type=click.Choice(["full", "classifier", "chat", "spans"]),
    default="full",
    show_default=True,
    help="full: everything (re-importable); classifier: text + label; chat: TRL messages + "
    "label; spans: evidence passages with offsets into the exported text.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write (refused if it exists and is not empty, unless --overwrite).",
)
@click.option(
    "--resolve",
    "resolve",
    default="adjudicated,unanimous,majority",
    show_default=True,
    help="Resolution steps, in order.",
)
@click.option(
    "--ties",
    type=click.Choice(["skip", "mark"]),
    default="skip",
    show_default=True,
    help="A majority tie: leave the trace out, or export it marked 'tie'.",
)
@click.option("--unlabeled", is_flag=True, help="Also export traces with no resolved label.")
@click.option("--include-original", is_flag=True, help="Full view: add the source record verbatim.")
@click.option("--verdict", "verdicts", multiple=True, metavar="V", help="Keep this verdict.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["adjudicated", "unanimous", "majority", "tie", "unresolved", "none"]),
    help="Keep traces resolved this way.",
)
@click.option(
    "--min-labelers",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="At least N done labels.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    metavar="X",
    help="At least this share of labelers agree with the resolved verdict.",
)
@click.option("--since-date", metavar="DATE", help="Last labeled on or after (ISO date/time).")
@click.option("--until-date", metavar="DATE", help="Last labeled before (a date: through it).")
@click.option("--labeler", "labelers", multiple=True, metavar="NAME", help="Labeled by NAME.")
@click.option("--gold/--no-gold", default=True, help="Include gold items (default: yes).")
@click.option("--batch", "batches", multiple=True, type=int, metavar="ID", help="Import batch.")
@click.option("--split", "split", metavar="R", help="Ratios, e.g. 0.8,0.1,0.1 or 0.9,0.1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option(
    "--group-by",
    type=click.Choice(["account", "session", "cluster", "none"]),
    default="account",
    show_default=True,
    help="Traces of one group never straddle splits.",
)
@click.option(
    "--since",
    "since",
    type=click.Path(path_type=Path, exists=True),
    metavar="MANIFEST",
    help="Only traces whose labels changed since this earlier export's manifest.",
)
@click.option("--overwrite", is_flag=True, help="Write into a non-empty folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def export_cmd(
    ctx: click.Context,
    project: str,
    fmt: str,
    view: str,
    out_dir: Path,
    resolve: str,
    ties: str,
    unlabeled: bool,
    include_original: bool,
    verdicts: tuple[str, ...],
    statuses: tuple[str, ...],
    min_labelers: int,
    min_agreement: float | None,
    since_date: str | None,
    until_date: str | None,
    labelers: tuple[str, ...],
    gold: bool,
    batches: tuple[int, ...],
    split: str | None,
    seed: int,
    group_by: str,
    since: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Export a project's labeled traces as a dataset, with a manifest (options, counts, sha256
    of every file). The same database and options give byte-identical data files.

    Each trace's label is resolved: adjudicated first, then unanimous, then majority.

    Exit status: 0 written, 2 usage error (unknown project, bad option, non-empty folder
    without --overwrite), 130 interrupted (no partial file is left)."""
    from annotator.services.exporting import (
        ExportError,
        ExportOptions,
        export_dataset,
        parse_ratios,
    )
    from annotator.services.exporting.resolve import parse_steps

    try:
        options = ExportOptions(
            format=fmt,
            view=view,
            resolve=parse_steps(resolve),
            ties=ties,
            unlabeled=unlabeled,
            include_original=include_original,
            verdicts=verdicts,
            statuses=statuses,
            min_labelers=min_labelers,
            min_agreement=min_agreement,
            since_date=_when(since_date, end=False),
            until_date=_when(until_date, end=True),
            labelers=labelers,
            gold=gold,
            batches=batches,
            split=parse_ratios(split) if split else None,
            seed=seed,
            group_by=group_by,
            since=since,
            overwrite=overwrite,
        ).checked()
    except (ValueError, ExportError) as exc:
        raise CliError(str(exc)) from None
    db = open_db(ctx)
    try:
        with _Bar(enabled=sys.stderr.isatty() and not as_json) as bar:
            summary = export_dataset(db, project, out_dir, options, progress=bar)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the export: {exc}") from None
    except KeyboardInterrupt:
        click.echo("annotator: export interrupted; no partial file was kept", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        print_json(summary.as_dict())
        return
    _print_summary(summary)


def _print_summary(summary: Any) -> None:
    console = out()
    plan = summary.plan
    labels = sorted({lab for counts in plan.label_counts.values() for lab in counts})
    table = Table("Split", "Rows", *labels, title=f"Exported {plan.rows:,} traces")
    for split in plan.splits:
        counts = plan.label_counts.get(split, {})
        table.add_row(
            escape(split),
            f"{plan.split_counts[split]:,}",
            *(f"{counts.get(lab, 0):,}" for lab in labels),
        )
    console.print(table)
    left_out = ", ".join(f"{reason} {n:,}" for reason, n in sorted(plan.skipped.items()))
    console.print(f"Scanned {plan.scanned:,} traces; left out: {left_out or 'none'}.")
    for f in summary.files:
        console.print(f"  {escape(f.path)}  {f.bytes:,} bytes  sha256 {f.sha256[:12]}")
    mb = summary.bytes / 1e6
    console.print(
        f"Wrote {mb:,.1f} MB to {escape(str(summary.out_dir))} in {summary.seconds:.1f} s "
        f"(manifest: {escape(str(summary.manifest))})."
    )
