"""`annotator detect run`, `annotator detector report`, `annotator clusters`: detection assist
for leads and pipelines (near-duplicate clusters, heuristic suggestions, how good they are)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from annotator.cli._support import PhaseBars, open_db, out, print_json
from annotator.cli.context import CliError
from annotator.store.database import Database


def _project_id(db: Database, name: str) -> int:
    from annotator.services.detection.groups import project_id_of
    from annotator.services.projects import ProjectError

    try:
        return project_id_of(db, name)
    except ProjectError as exc:
        raise CliError(str(exc)) from None


class DetectionBar(PhaseBars):
    """Two bars on stderr: clustering new prompts, then suggestions."""

    def cluster(self, p: Any) -> None:
        name = "Clustering prompts" if p.phase == "cluster" else "Describing clusters"
        self.update(name, p.done, p.total)

    def suggest(self, p: Any) -> None:
        self.update("Suggesting", p.done, p.total)


@click.group("detect")
def detect_group() -> None:
    """Near-duplicate clusters and heuristic suggestions."""


@detect_group.command("run")
@click.option("--project", "name", required=True, metavar="NAME", help="The project.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def detect_run_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Cluster prompts not yet clustered, then (re)compute every trace's suggestion."""
    from annotator.services.detection.suggest import run_detection

    db = open_db(ctx)
    pid = _project_id(db, name)
    with DetectionBar(enabled=sys.stderr.isatty()) as bar:
        run = run_detection(db, pid, cluster_progress=bar.cluster, suggest_progress=bar.suggest)
    if as_json:
        print_json(run.as_dict())
        return
    c = run.clusters
    out().print(
        escape(
            f"Clustered {c.new_traces:,} new traces ({c.new_clusters:,} new clusters, "
            f"{c.merged_clusters:,} merged) in {c.seconds:.1f} s; "
            f"{run.suggestions:,} suggestions stored."
        )
    )


@click.group("detector")
def detector_group() -> None:
    """How good the heuristic suggestions are."""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@detector_group.command("report")
@click.option("--project", "name", required=True, metavar="NAME", help="The project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def detector_report_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Precision, recall and confusion of the suggestions on items with resolved labels
    (adjudicated, else unanimous submitted labels)."""
    from annotator.services.detection.report import detector_report

    db = open_db(ctx)
    report = detector_report(db, _project_id(db, name))
    if as_json:
        print_json(report.as_dict())
        return
    console = out()
    console.print(
        f"{report.items:,} resolved items with a suggestion "
        f"({report.adjudicated:,} adjudicated, {report.unanimous:,} unanimous)"
    )
    if not report.items:
        console.print("Nothing to measure yet: run `annotator detect run` and label some traces.")
        return
    o = report.overall
    console.print(
        f"suspected_distillation: precision {_pct(o.precision)}, recall {_pct(o.recall)} "
        f"(tp {o.tp}, fp {o.fp}, fn {o.fn}, tn {o.tn})"
    )
    resolved = sorted({v for row in report.confusion.values() for v in row})
    table = Table("Suggested \\ resolved", *[escape(v) for v in resolved])
    for suggested, row in report.confusion.items():
        table.add_row(escape(suggested), *[str(row.get(v, 0)) for v in resolved])
    console.print(table)
    tags = Table("Tag", "Precision", "Recall", "TP", "FP", "FN", "TN")
    for tag, c in report.tags.items():
        if c.tp + c.fp + c.fn:
            tags.add_row(
                escape(tag), _pct(c.precision), _pct(c.recall), *map(str, (c.tp, c.fp, c.fn, c.tn))
            )
    console.print(tags)
    for name_, a in report.anchoring.items():
        console.print(
            f"Labels made {name_} suggestions shown: {a['labels']:,}, "
            f"matching the suggestion {_pct(a['match_suggestion'])}"
        )


@click.command("clusters")
@click.option("--project", "name", required=True, metavar="NAME", help="The project.")
@click.option("--limit", default=20, show_default=True, help="How many clusters to list.")
@click.option("--min-size", default=2, show_default=True, help="Smallest cluster listed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def clusters_cmd(ctx: click.Context, name: str, limit: int, min_size: int, as_json: bool) -> None:
    """The biggest near-duplicate prompt clusters: size, accounts, time span, varying slots."""
    from annotator.services.detection.clustering import biggest_clusters

    db = open_db(ctx)
    clusters = biggest_clusters(db, _project_id(db, name), limit=limit, min_size=min_size)
    if as_json:
        print_json([c.as_dict() for c in clusters])
        return
    if not clusters:
        out().print("No clusters yet (or none that big): run `annotator detect run`.")
        return
    table = Table("Cluster", "Traces", "Accounts", "First", "Last", "Template", "Slots")
    for c in clusters:
        slots = "; ".join(
            f"{{{s['slot']}}} {s['kind']}: " + " | ".join(v[:30] for v in s["values"][:3])
            for s in c.slots
        )
        table.add_row(
            str(c.id),
            f"{c.size:,}",
            f"{c.n_accounts:,}",
            c.first_at.strftime("%Y-%m-%d %H:%M") if c.first_at else "-",
            c.last_at.strftime("%Y-%m-%d %H:%M") if c.last_at else "-",
            escape(c.template[:80]),
            escape(slots[:100]),
        )
    out().print(table)


DETECT_COMMANDS: list[click.Command] = [detect_group, detector_group, clusters_cmd]
