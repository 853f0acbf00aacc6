"""Team lead commands: `annotator members`, `assign`, `reassign`, `unassign`, `gold`,
`progress`, `agreement`, `review`, `comments`.

Every command acts as a person: ``--as NAME``, else ``$ANNOTATOR_USER``, else the OS user. The
services check the role (lead commands refuse labelers), so the CLI only maps their errors to
one-line messages (exit code 2). ``--json`` prints the plain results for scripts.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from annotator.cli._support import open_db, out, print_json
from annotator.cli.context import CliError

if TYPE_CHECKING:
    from annotator.store.database import Database

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def acting_user(name: str | None) -> str:
    """Who runs the command: ``--as``, else ANNOTATOR_USER, else the OS login name."""
    if name and name.strip():
        return name.strip()
    env = os.environ.get("ANNOTATOR_USER", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise CliError("cannot tell who you are; pass --as NAME or set ANNOTATOR_USER") from None


def _common(func: F) -> F:
    """--project, --as and --json, shared by every lead command."""
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)
    func = click.option(
        "--as",
        "acting",
        metavar="NAME",
        help="Act as this member (default: $ANNOTATOR_USER, else your login name).",
    )(func)
    return click.option("--project", "project", required=True, metavar="NAME", help="The project.")(
        func
    )


@contextmanager
def _errors() -> Iterator[None]:
    """The services' refusals as one-line CLI errors."""
    from annotator.domain.schema import SchemaError
    from annotator.services.assignment import AssignmentError
    from annotator.services.projects import ProjectError
    from annotator.services.review import ReviewError, RoleError

    try:
        yield
    except (AssignmentError, ProjectError, ReviewError, RoleError, SchemaError) as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:  # e.g. an unknown bucket or bad confidence
        raise CliError(str(exc)) from None


def _split(values: Sequence[str]) -> list[str]:
    """``--tags A,B --tags C`` -> [A, B, C]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _estimate(est: Any) -> str:
    if est.value is None:
        return "-"
    if est.low is None or est.high is None:
        return f"{est.value:.3f}"
    return f"{est.value:.3f} [{est.low:.3f}, {est.high:.3f}]"


def _build_label(
    ctx: click.Context,
    project: str,
    verdict: str,
    tags: Sequence[str],
    confidence: int | None,
    rationale: str,
) -> Any:
    """A domain Label; each tag goes to tags or counter_tags by the project's schema."""
    from annotator.domain.label import Label
    from annotator.services.projects import project_info

    with _errors():
        schema = project_info(open_db(ctx), project).schema
    names = _split(tags)
    counter = [t for t in names if t in schema.counter_tag_names]
    evidence = [t for t in names if t not in schema.counter_tag_names]
    return Label(
        verdict=verdict,
        tags=tuple(evidence),
        counter_tags=tuple(counter),
        confidence=confidence,
        rationale=rationale,
    )


# -- members -------------------------------------------------------------------------------


@click.group("members")
def members_group() -> None:
    """Who is on a project, as labeler or lead."""


@members_group.command("add")
@_common
@click.option(
    "--role",
    type=click.Choice(["labeler", "lead"]),
    default="labeler",
    show_default=True,
    help="Role of the new members.",
)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def members_add_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    role: str,
    names: tuple[str, ...],
) -> None:
    """Add members (or change their role). Only a lead may, except the project's first lead."""
    from annotator.services.review import set_member

    db = open_db(ctx)
    who = acting_user(acting)
    done = []
    with _errors():
        for name in names:
            done.append(set_member(db, project, name=name, role=role, acting=who))
    if as_json:
        print_json([{"name": m.name, "role": m.role} for m in done])
        return
    out().print(escape(f"{', '.join(m.name for m in done)}: {role} of {project!r}."))


@members_group.command("list")
@click.option("--project", "project", required=True, metavar="NAME", help="The project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def members_list_cmd(ctx: click.Context, project: str, as_json: bool) -> None:
    """The members and their roles."""
    from annotator.services.review import list_members

    with _errors():
        members = list_members(open_db(ctx), project)
    if as_json:
        print_json([{"name": m.name, "role": m.role} for m in members])
        return
    if not members:
        out().print(
            escape(f"No members yet: annotator members add --project {project!r} --role lead NAME")
        )
        return
    table = Table("Member", "Role")
    for m in members:
        table.add_row(escape(m.name), m.role)
    out().print(table)


# -- assignment ----------------------------------------------------------------------------


@click.command("assign")
@_common
@click.option("-n", "--items", "n_items", type=int, required=True, help="How many items.")
@click.option(
    "--to",
    "labelers",
    multiple=True,
    required=True,
    metavar="NAME[,NAME...]",
    help="The labelers (repeat or separate with commas).",
)
@click.option(
    "-k",
    "--overlap",
    "overlap_k",
    type=int,
    default=1,
    show_default=True,
    help="Labelers per item.",
)
@click.option(
    "--gold-rate", type=float, default=0.0, show_default=True, help="Share of gold items (0-1)."
)
@click.option(
    "--order",
    type=click.Choice(["random", "import", "score", "uncertainty"]),
    default="random",
    show_default=True,
    help="Which items first (uncertainty: least certain heuristic suggestion first).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random order.")
@click.option(
    "--score-column",
    metavar="COLUMN",
    help="With --order score: reasoning_chars, output_tokens, ... or suggestion:DETECTOR.",
)
@click.pass_context
def assign_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    n_items: int,
    labelers: tuple[str, ...],
    overlap_k: int,
    gold_rate: float,
    order: str,
    seed: int,
    score_column: str | None,
) -> None:
    """Hand out N items to labelers, each item to k of them, with gold items mixed in.
    All or nothing: on any problem nothing is assigned."""
    from annotator.services.assignment import assign

    with _errors():
        result = assign(
            open_db(ctx),
            project,
            n_items=n_items,
            labelers=_split(labelers),
            overlap_k=overlap_k,
            gold_rate=gold_rate,
            order=order,
            seed=seed,
            score_column=score_column,
            assigned_by=acting_user(acting),
        )
    if as_json:
        print_json(result.as_dict())
        return
    console = out()
    console.print(
        f"Assigned {result.n_items:,} items ({result.n_gold:,} gold) as "
        f"{result.n_assignments:,} queue entries."
    )
    table = Table("Labeler", "New items")
    for name, n in result.per_labeler.items():
        table.add_row(escape(name), f"{n:,}")
    console.print(table)


@click.command("reassign")
@_common
@click.option("--from", "from_labeler", required=True, metavar="NAME", help="Take work from.")
@click.option("--to", "to_labeler", required=True, metavar="NAME", help="Give it to.")
@click.option("--trace", "traces", multiple=True, metavar="UID", help="Only these traces.")
@click.pass_context
def reassign_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    from_labeler: str,
    to_labeler: str,
    traces: tuple[str, ...],
) -> None:
    """Move a labeler's unlabeled items to another labeler (labels are never lost)."""
    from annotator.services.assignment import reassign

    with _errors():
        result = reassign(
            open_db(ctx),
            project,
            from_labeler=from_labeler,
            to_labeler=to_labeler,
            assigned_by=acting_user(acting),
            traces=_split(traces) or None,
        )
    if as_json:
        print_json(result.as_dict())
        return
    out().print(
        escape(
            f"Moved {result.moved:,} items from {from_labeler} to {to_labeler}; "
            f"{result.kept_labeled:,} already labeled stay, "
            f"{result.skipped_duplicate:,} {to_labeler} already had."
        )
    )


@click.command("unassign")
@_common
@click.option("--labeler", required=True, metavar="NAME", help="Whose queue.")
@click.option("--trace", "traces", multiple=True, metavar="UID", help="Only these traces.")
@click.option("--include-labeled", is_flag=True, help="Also drop entries already labeled.")
@click.pass_context
def unassign_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    labeler: str,
    traces: tuple[str, ...],
    include_labeled: bool,
) -> None:
    """Take items out of a labeler's queue (their labels are kept)."""
    from annotator.services.assignment import unassign

    with _errors():
        result = unassign(
            open_db(ctx),
            project,
            labeler=labeler,
            assigned_by=acting_user(acting),
            traces=_split(traces) or None,
            include_labeled=include_labeled,
        )
    if as_json:
        print_json({"removed": result.moved, "kept_labeled": result.kept_labeled})
        return
    out().print(
        escape(
            f"Removed {result.moved:,} items from {labeler}'s queue; "
            f"{result.kept_labeled:,} already labeled stay."
        )
    )


# -- gold ----------------------------------------------------------------------------------


@click.group("gold")
def gold_group() -> None:
    """Gold items: traces with a known answer, mixed into queues to measure accuracy."""


@gold_group.command("set")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.option("--verdict", required=True, help="The known verdict.")
@click.option("--tags", multiple=True, metavar="TAG[,TAG...]", help="Evidence or counter tags.")
@click.option("--confidence", type=int, help="Confidence of the answer.")
@click.option("--rationale", default="", help="Why this is the answer.")
@click.pass_context
def gold_set_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    trace: str,
    verdict: str,
    tags: tuple[str, ...],
    confidence: int | None,
    rationale: str,
) -> None:
    """Make a trace a gold item with this answer (labelers never see that it is gold)."""
    from annotator.services.assignment import mark_gold

    label = _build_label(ctx, project, verdict, tags, confidence, rationale)
    with _errors():
        trace_id = mark_gold(open_db(ctx), project, trace, label, lead=acting_user(acting))
    if as_json:
        print_json({"trace": trace, "trace_id": trace_id, "gold": label.model_dump(mode="json")})
        return
    out().print(escape(f"Trace {trace} is a gold item (answer: {verdict})."))


@gold_group.command("unset")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.pass_context
def gold_unset_cmd(
    ctx: click.Context, project: str, acting: str | None, as_json: bool, trace: str
) -> None:
    """Make a gold item an ordinary trace again."""
    from annotator.services.assignment import unmark_gold

    with _errors():
        trace_id = unmark_gold(open_db(ctx), project, trace, lead=acting_user(acting))
    if as_json:
        print_json({"trace": trace, "trace_id": trace_id, "gold": None})
        return
    out().print(escape(f"Trace {trace} is no longer a gold item."))


# -- progress and agreement ----------------------------------------------------------------


@click.command("progress")
@_common
@click.option(
    "--by",
    "bucket",
    type=click.Choice(["day", "hour"]),
    default="day",
    show_default=True,
    help="Time buckets of the progress over time (UTC).",
)
@click.pass_context
def progress_cmd(
    ctx: click.Context, project: str, acting: str | None, as_json: bool, bucket: str
) -> None:
    """Per labeler: assigned, done, throughput, time per item; and progress over time."""
    from annotator.services.progress import progress

    with _errors():
        db = open_db(ctx)
        report = progress(db, project, lead=acting_user(acting), bucket=bucket)
    if as_json:
        print_json(report.as_dict())
        _keep_snapshots(db)
        return
    console = out()
    console.print(
        escape(
            f"{report.project}: {report.traces:,} traces, {report.assigned_items:,} assigned, "
            f"{report.labeled_items:,} labeled, {report.complete_items:,} complete, "
            f"{report.adjudicated_items:,} adjudicated, {report.gold_items:,} gold"
        )
    )
    table = Table(
        "Member", "Role", "Assigned", "Done", "Left", "Skipped", "Flagged", "Items/h", "Median s"
    )
    for p in report.labelers:
        table.add_row(
            escape(p.name),
            p.role or "-",
            f"{p.assigned:,}",
            f"{p.done:,}",
            f"{p.remaining:,}",
            f"{p.skipped:,}",
            f"{p.flagged:,}",
            _fmt(p.items_per_hour, 1),
            _fmt(p.median_seconds, 0),
        )
    console.print(table)
    if report.over_time:
        days = Table("From (UTC)", "Done", "Total so far", title=f"Per {bucket}")
        for point in report.over_time[-14:]:
            days.add_row(
                point.start.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"),
                f"{point.total:,}",
                f"{point.cumulative:,}",
            )
        console.print(days)
    _keep_snapshots(db)


def _keep_snapshots(db: Database) -> None:
    """After the report is out: save the label table's snapshot when it is due, so the next
    command (or the dashboard) starts from it instead of reading every label again. A snapshot
    that cannot be written only costs that next run its speed."""
    from annotator.services.progress import flush_snapshots

    try:
        flush_snapshots(db)
    except OSError as exc:
        log.warning("label snapshot not written: %s", exc)


@click.command("agreement")
@_common
@click.option("--labeler", "labelers", multiple=True, metavar="NAME", help="Only these labelers.")
@click.option(
    "--bootstrap",
    type=int,
    default=1000,
    show_default=True,
    help="Resamples for intervals (0: none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resampling.")
@click.option(
    "--confidence", type=float, default=0.95, show_default=True, help="Interval coverage."
)
@click.pass_context
def agreement_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    labelers: tuple[str, ...],
    bootstrap: int,
    seed: int,
    confidence: float,
) -> None:
    """Inter-annotator agreement: verdict (percent, Fleiss, Krippendorff's alpha), pairs
    (Cohen's kappa, spans), labelers, tags, gold accuracy; bootstrap intervals."""
    from annotator.services.agreement import agreement_report

    with _errors():
        db = open_db(ctx)
        report = agreement_report(
            db,
            project,
            lead=acting_user(acting),
            labelers=_split(labelers) or None,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
        )
    if as_json:
        print_json(report.as_dict())
        _keep_snapshots(db)
        return
    console = out()
    v = report.verdict
    level = f"{report.confidence:.0%}"
    summary = Table("Verdict", f"Value [{level} interval]", "Items", title=escape(report.project))
    summary.add_row("Percent agreement", _estimate(v.percent), f"{v.percent.n:,}")
    summary.add_row(
        f"Fleiss' kappa (k={v.fleiss_k or '-'})", _estimate(v.fleiss), f"{v.fleiss.n:,}"
    )
    summary.add_row("Krippendorff's alpha", _estimate(v.alpha), f"{v.alpha.n:,}")
    spans = report.spans
    if spans is not None:
        summary.add_row("Span F1", _estimate(spans.f1), f"{spans.n:,} pairs")
    console.print(summary)
    if report.pairs:
        pairs = Table("Pair", "Items", "Percent", "Cohen's kappa", "Span F1")
        for p in report.pairs:
            pairs.add_row(
                escape(f"{p.a} / {p.b}"),
                f"{p.n_items:,}",
                _estimate(p.percent),
                _estimate(p.cohen),
                "-" if p.spans is None else _estimate(p.spans.f1),
            )
        console.print(pairs)
    tags = Table("Tag", "Chosen", "Alpha")
    for t in report.tags:
        if t.chosen:
            tags.add_row(escape(t.tag), f"{t.chosen:,}", _estimate(t.alpha))
    if tags.row_count:
        console.print(tags)
    if report.gold:
        gold = Table("Labeler", "Gold items", "Accuracy", "Missed")
        for g in report.gold:
            missed = ", ".join(m.uid for m in g.missed[:5]) + (" ..." if len(g.missed) > 5 else "")
            gold.add_row(escape(g.name), f"{g.n_gold:,}", _fmt(g.accuracy), escape(missed))
        console.print(gold)
    _keep_snapshots(db)


# -- review --------------------------------------------------------------------------------


@click.group("review", invoke_without_command=True)
@click.option("--project", "project", metavar="NAME", help="The project.")
@click.option("--as", "acting", metavar="NAME", help="Act as this lead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--flagged-only", is_flag=True, help="Only items a labeler flagged.")
@click.option("--tags", "tag_disagreement", is_flag=True, help="Also items whose tags differ.")
@click.option("--trace", "picked", multiple=True, metavar="UID", help="Also show these traces.")
@click.option("--all", "include_adjudicated", is_flag=True, help="Include adjudicated items.")
@click.option("--limit", type=int, help="At most this many items.")
@click.pass_context
def review_group(
    ctx: click.Context,
    project: str | None,
    acting: str | None,
    as_json: bool,
    flagged_only: bool,
    tag_disagreement: bool,
    picked: tuple[str, ...],
    include_adjudicated: bool,
    limit: int | None,
) -> None:
    """The review queue (labels that disagree, flagged items, picked traces) with every label
    side by side; `review accept` / `review set` settle an item."""
    if ctx.invoked_subcommand is not None:
        return
    if not project:
        raise CliError("review needs --project NAME")
    from annotator.services.review import review_queue

    with _errors():
        items = review_queue(
            open_db(ctx),
            project,
            lead=acting_user(acting),
            reasons=["flagged"] if flagged_only else ["disagree", "flagged"],
            picked=_split(picked),
            tag_disagreement=tag_disagreement,
            include_adjudicated=include_adjudicated,
            limit=limit,
        )
    if as_json:
        print_json([item.as_dict() for item in items])
        return
    console = out()
    if not items:
        console.print("Nothing to review.")
        return
    for item in items:
        head = f"{item.uid}  ({', '.join(item.reasons)})"
        if item.is_gold and item.gold is not None:
            head += f"  gold: {item.gold.verdict}"
        if item.adjudication is not None:
            head += f"  settled: {item.adjudication.verdict}"
        table = Table(
            "Labeler", "Status", "Verdict", "Tags", "Conf", "Spans", "Rationale", title=escape(head)
        )
        for label in item.labels:
            table.add_row(
                escape(label.labeler),
                label.status,
                escape(label.verdict or "-"),
                escape(", ".join((*label.tags, *label.counter_tags))),
                str(label.confidence or "-"),
                escape(", ".join(f"{s.turn}.{s.block}:{s.start}-{s.end}" for s in label.spans)),
                escape((label.rationale or label.comment or "")[:80]),
            )
        console.print(table)
    console.print(f"{len(items):,} items to review.")


@review_group.command("accept")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.option("--label-of", "label_of", required=True, metavar="NAME", help="Whose label wins.")
@click.option("--note", help="Why (kept with the decision).")
@click.pass_context
def review_accept_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    trace: str,
    label_of: str,
    note: str | None,
) -> None:
    """Make one labeler's label the item's final label."""
    from annotator.services.review import accept_label

    with _errors():
        info = accept_label(
            open_db(ctx),
            project,
            lead=acting_user(acting),
            trace=trace,
            label_of_labeler=label_of,
            note=note,
        )
    if as_json:
        print_json(info.as_dict())
        return
    out().print(escape(f"{trace}: final verdict {info.verdict} (label of {label_of})."))


@review_group.command("set")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.option("--verdict", required=True, help="The final verdict.")
@click.option("--tags", multiple=True, metavar="TAG[,TAG...]", help="Evidence or counter tags.")
@click.option("--confidence", type=int, help="Confidence (required by most verdicts).")
@click.option("--rationale", default="", help="Rationale of the final label.")
@click.option("--note", help="Why (kept with the decision).")
@click.pass_context
def review_set_cmd(
    ctx: click.Context,
    project: str,
    acting: str | None,
    as_json: bool,
    trace: str,
    verdict: str,
    tags: tuple[str, ...],
    confidence: int | None,
    rationale: str,
    note: str | None,
) -> None:
    """Write the item's final label yourself."""
    from annotator.services.review import set_final_label

    label = _build_label(ctx, project, verdict, tags, confidence, rationale)
    with _errors():
        info = set_final_label(
            open_db(ctx), project, lead=acting_user(acting), trace=trace, label=label, note=note
        )
    if as_json:
        print_json(info.as_dict())
        return
    out().print(escape(f"{trace}: final verdict {info.verdict}."))


@review_group.command("history")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.pass_context
def review_history_cmd(
    ctx: click.Context, project: str, acting: str | None, as_json: bool, trace: str
) -> None:
    """Every decision on a trace, oldest first (the last one is current)."""
    from annotator.services.review import adjudication_history

    with _errors():
        history = adjudication_history(open_db(ctx), project, lead=acting_user(acting), trace=trace)
    if as_json:
        print_json([h.as_dict() for h in history])
        return
    table = Table("When (UTC)", "Lead", "Verdict", "From", "Note")
    for h in history:
        table.add_row(
            h.created_at.strftime("%Y-%m-%d %H:%M"),
            escape(h.lead),
            escape(h.verdict),
            escape(h.accepted_from or "(written)"),
            escape(h.note or ""),
        )
    out().print(table)


# -- comments ------------------------------------------------------------------------------


@click.group("comments", invoke_without_command=True)
@click.option("--project", "project", metavar="NAME", help="The project.")
@click.option("--as", "acting", metavar="NAME", help="Read as this member.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--trace", metavar="UID", help="Only this trace.")
@click.pass_context
def comments_group(
    ctx: click.Context,
    project: str | None,
    acting: str | None,
    as_json: bool,
    trace: str | None,
) -> None:
    """Comments on traces you may read (a lead: all; a labeler: threads they started)."""
    if ctx.invoked_subcommand is not None:
        return
    if not project:
        raise CliError("comments needs --project NAME")
    from annotator.services.review import comments_for

    with _errors():
        comments = comments_for(open_db(ctx), project, viewer=acting_user(acting), trace=trace)
    if as_json:
        print_json([c.as_dict() for c in comments])
        return
    table = Table("Trace", "When (UTC)", "Author", "Comment")
    for c in comments:
        table.add_row(
            escape(c.uid),
            c.created_at.strftime("%Y-%m-%d %H:%M"),
            escape(f"{c.author} ({c.author_role or '-'})"),
            escape(c.body),
        )
    out().print(table)


@comments_group.command("add")
@_common
@click.option("--trace", required=True, metavar="UID", help="The trace.")
@click.argument("body")
@click.pass_context
def comments_add_cmd(
    ctx: click.Context, project: str, acting: str | None, as_json: bool, trace: str, body: str
) -> None:
    """Comment on a trace (a lead answering a flag, or a labeler asking)."""
    from annotator.services.review import add_comment

    with _errors():
        comment = add_comment(
            open_db(ctx), project, author=acting_user(acting), trace=trace, body=body
        )
    if as_json:
        print_json(comment.as_dict())
        return
    out().print(escape(f"Comment added to {trace}."))


LEAD_COMMANDS: list[click.Command] = [
    members_group,
    assign_cmd,
    reassign_cmd,
    unassign_cmd,
    gold_group,
    progress_cmd,
    agreement_cmd,
    review_group,
    comments_group,
]
