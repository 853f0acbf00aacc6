"""The lead's commands as a user runs them: the console script in a subprocess, an isolated
home, a real corpus file imported; labelers label through the labeling service (what the GUI
calls) on the same database file between commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from sqlalchemy import select, update

from annotator.domain.label import EvidenceSpan, Label
from annotator.services.labeling import LabelingService
from annotator.store.models import TraceRow
from annotator.store.open import open_database

REPO = Path(__file__).resolve().parents[2]
ANNOTATOR = REPO / ".venv" / "bin" / "annotator"
P = "Lead batch"
VERDICTS = ("legitimate", "suspected_distillation", "other_policy_issue", "cannot_determine")


@pytest.fixture
def run(home: Path) -> Any:
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    env = {**os.environ, "ANNOTATOR_HOME": str(home), "COLUMNS": "200"}
    env.pop("ANNOTATOR_DB", None)
    env.pop("ANNOTATOR_USER", None)

    def call(
        *args: str, expect: int = 0, user: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        extra = {"ANNOTATOR_USER": user} if user else {}
        done = subprocess.run(
            [*exe, *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return call


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annotator: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def label_queue(
    home: Path, who: str, verdict_of: Any, flag: frozenset[int] = frozenset()
) -> list[int]:
    """``who`` works through their queue with the labeling service; returns the trace ids."""
    db = open_database(f"sqlite:///{home / 'annotator.sqlite3'}", backup_dir=None)
    try:
        svc = LabelingService(db, P, who)
        queue = svc.queue_ids()
        for position, trace_id in enumerate(queue):
            if position in flag:
                svc.flag(trace_id, f"{who} is unsure about this one", 4.0)
                continue
            verdict = verdict_of(trace_id)
            svc.submit(
                trace_id,
                Label(
                    verdict=verdict,
                    tags=("REASONING_ELICIT",) if verdict == "suspected_distillation" else (),
                    confidence=None if verdict == "cannot_determine" else 2,
                    rationale=f"{who} on {trace_id}",
                    spans=(EvidenceSpan(turn=0, block=0, start=0, end=10 + len(who)),),
                ),
                45.0,
            )
        return queue
    finally:
        db.dispose()


def test_lead_workflow_end_to_end(run: Any, home: Path, corpus_dir: Path) -> None:
    run("init", "--project", P)
    imported = as_json(run("import", str(corpus_dir / "LLaMA-Factory"), "--project", P, "--json"))[
        "totals"
    ]["imported"]
    assert imported == 50

    # Roles: the first lead may add themself; after that only a lead adds people.
    run("members", "add", "--project", P, "--role", "lead", "lena", "--as", "lena")
    one_line_error(
        run("members", "add", "--project", P, "mallory", "--as", "mallory", expect=2),
        "'mallory' is not a member",
    )
    added = as_json(
        run("members", "add", "--project", P, "ann", "bob", "cy", "--json", user="lena")
    )
    assert [m["name"] for m in added] == ["ann", "bob", "cy"]
    members = as_json(run("members", "list", "--project", P, "--json"))
    assert members[0] == {"name": "lena", "role": "lead"} and len(members) == 4
    assert "labeler" in run("members", "list", "--project", P).stdout

    # Gold answers, and a gold item without one blocks a gold assignment (nothing assigned).
    db = open_database(f"sqlite:///{home / 'annotator.sqlite3'}", backup_dir=None)
    try:
        with db.session() as session:
            uid_of = dict(session.execute(select(TraceRow.id, TraceRow.uid)).all())
            uids = [uid_of[t] for t in sorted(uid_of)]
            session.execute(update(TraceRow).where(TraceRow.uid == uids[-1]).values(is_gold=True))
    finally:
        db.dispose()
    gold_uids = uids[-3:-1]
    for uid in gold_uids:
        out = as_json(
            run(
                "gold",
                "set",
                "--project",
                P,
                "--trace",
                uid,
                "--verdict",
                "legitimate",
                "--confidence",
                "3",
                "--tags",
                "EDU_TUTORING",
                "--json",
                "--as",
                "lena",
            )
        )
        assert out["gold"]["counter_tags"] == ["EDU_TUTORING"]
    one_line_error(
        run(
            "gold",
            "set",
            "--project",
            P,
            "--trace",
            uids[0],
            "--verdict",
            "nope",
            "--as",
            "lena",
            expect=2,
        ),
        "Unknown verdict 'nope'",
    )
    assign_args = ["assign", "--project", P, "-n", "10", "--to", "ann,bob", "--to", "cy", "-k", "2"]
    one_line_error(
        run(*assign_args, "--gold-rate", "0.2", "--as", "lena", expect=2), "has no answer"
    )
    one_line_error(run(*assign_args, "--as", "ann", expect=2), "'ann' is a labeler, not a lead")
    one_line_error(
        run("assign", "--project", P, "-n", "100", "--to", "ann", "--as", "lena", expect=2),
        "asked for 100 items",
    )
    one_line_error(
        run(
            "assign",
            "--project",
            P,
            "-n",
            "5",
            "--to",
            "ann,bob",
            "-k",
            "3",
            "--as",
            "lena",
            expect=2,
        ),
        "more than the 2 chosen",
    )
    one_line_error(
        run("assign", "--project", P, "-n", "5", "--to", "ann,zed", "--as", "lena", expect=2),
        "'zed' is not a member",
    )
    assert as_json(run("progress", "--project", P, "--json", user="lena"))["assigned_items"] == 0
    run("gold", "unset", "--project", P, "--trace", uids[-1], "--as", "lena")

    result = as_json(run(*assign_args, "--gold-rate", "0.2", "--seed", "3", "--json", user="lena"))
    assert (result["items"], result["gold"], result["assignments"]) == (10, 2, 20)
    assert sorted(result["per_labeler"].values()) == [6, 7, 7]

    # Labelers work blind through their queues; they disagree on some traces, cy flags one.
    ann = label_queue(home, "ann", lambda t: VERDICTS[t % 2])
    bob = label_queue(home, "bob", lambda t: VERDICTS[t % 2] if t % 3 else VERDICTS[2])
    cy = label_queue(
        home, "cy", lambda t: VERDICTS[t % 2] if t % 5 else VERDICTS[3], flag=frozenset({0})
    )
    assert len(ann) + len(bob) + len(cy) == 20

    progress = as_json(run("progress", "--project", P, "--json", user="lena"))
    by = {p["name"]: p for p in progress["labelers"]}
    assert by["ann"]["done"] == len(ann) and by["cy"]["done"] == len(cy) - 1
    assert by["cy"]["flagged"] == 1 and by["ann"]["seconds"] == 45.0 * len(ann)
    assert progress["labeled_items"] == 10 and progress["gold_items"] == 2
    assert sum(p["total"] for p in progress["over_time"]) == 19
    human = run("progress", "--project", P, "--as", "lena").stdout
    assert "Items/h" in human and "ann" in human
    # The command left the label table's snapshot behind; the next one starts from it.
    assert [p for p in (home / "cache").rglob("*") if p.is_file()]
    assert as_json(run("progress", "--project", P, "--json", user="lena")) == progress

    # Agreement: alpha equals the reference package on the same labels.
    report = as_json(
        run("agreement", "--project", P, "--bootstrap", "200", "--json", "--as", "lena")
    )
    verdict_of = {
        "ann": lambda t: VERDICTS[t % 2],
        "bob": lambda t: VERDICTS[t % 2] if t % 3 else VERDICTS[2],
        "cy": lambda t: VERDICTS[t % 2] if t % 5 else VERDICTS[3],
    }
    items = sorted(set(ann) | set(bob) | set(cy))
    reliability = np.full((3, len(items)), np.nan)
    for r, (who, queue) in enumerate((("ann", ann), ("bob", bob), ("cy", cy))):
        for t in queue:
            if who == "cy" and t == cy[0]:
                continue  # flagged, not submitted
            reliability[r, items.index(t)] = VERDICTS.index(verdict_of[who](t))
    expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    alpha = report["verdict"]["alpha"]
    assert alpha["value"] == pytest.approx(expected)
    assert alpha["low"] <= alpha["value"] <= alpha["high"]
    assert {(p["a"], p["b"]) for p in report["pairs"]} == {
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    }
    gold = {g["name"]: g for g in report["gold"]}
    gold_ids = {t for t, uid in uid_of.items() if uid in gold_uids}
    for who, queue in (("ann", ann), ("bob", bob), ("cy", cy)):
        mine = [t for t in queue if t in gold_ids and not (who == "cy" and t == cy[0])]
        wrong = sorted(uid_of[t] for t in mine if verdict_of[who](t) != "legitimate")
        if not mine:
            assert who not in gold
            continue
        assert gold[who]["n_gold"] == len(mine)
        assert sorted(m["uid"] for m in gold[who]["missed"]) == wrong
        assert gold[who]["correct"] == len(mine) - len(wrong)
    human = run("agreement", "--project", P, "--bootstrap", "50", "--as", "lena").stdout
    assert "Krippendorff's alpha" in human and "Cohen's kappa" in human
    one_line_error(run("agreement", "--project", P, "--as", "ann", expect=2), "not a lead")

    # Review: the disagreements and the flag, labels side by side; accept one, write another.
    queue = as_json(run("review", "--project", P, "--json", "--as", "lena"))
    assert queue and all(set(i["reasons"]) <= {"disagree", "flagged"} for i in queue)
    flagged = [i for i in queue if "flagged" in i["reasons"]]
    assert len(flagged) == 1 and flagged[0]["trace_id"] == cy[0]
    disputed = [i for i in queue if i["reasons"] == ["disagree"]]
    first, second = disputed[0]["uid"], disputed[1]["uid"]
    assert len({lab["verdict"] for lab in disputed[0]["labels"]}) > 1
    labeler = disputed[0]["labels"][0]["labeler"]
    accepted = as_json(
        run(
            "review",
            "accept",
            "--project",
            P,
            "--trace",
            first,
            "--label-of",
            labeler,
            "--note",
            "per guideline 3",
            "--json",
            "--as",
            "lena",
        )
    )
    assert accepted["accepted_from"] == labeler
    written = as_json(
        run(
            "review",
            "set",
            "--project",
            P,
            "--trace",
            second,
            "--verdict",
            "suspected_distillation",
            "--tags",
            "REASONING_ELICIT,DATASET_FORMAT",
            "--confidence",
            "2",
            "--json",
            "--as",
            "lena",
        )
    )
    assert written["label"]["tags"] == ["REASONING_ELICIT", "DATASET_FORMAT"]
    run(
        "review",
        "set",
        "--project",
        P,
        "--trace",
        first,
        "--verdict",
        "legitimate",
        "--confidence",
        "1",
        "--as",
        "lena",
    )
    history = as_json(
        run("review", "history", "--project", P, "--trace", first, "--json", "--as", "lena")
    )
    assert history[0]["verdict"] == accepted["verdict"]
    assert history[-1]["verdict"] == "legitimate" and len(history) == 2
    after = as_json(run("review", "--project", P, "--json", "--as", "lena"))
    assert len(after) == len(queue) - 2
    human = run("review", "--project", P, "--trace", first, "--as", "lena").stdout
    assert "Rationale" in human and first in human
    one_line_error(
        run(
            "review",
            "set",
            "--project",
            P,
            "--trace",
            second,
            "--verdict",
            "legitimate",
            "--as",
            "lena",
            expect=2,
        ),
        "Confidence is required",
    )
    one_line_error(run("review", "--project", P, "--as", "bob", expect=2), "not a lead")
    one_line_error(
        run(
            "review",
            "accept",
            "--project",
            P,
            "--trace",
            "no-such",
            "--label-of",
            "ann",
            "--as",
            "lena",
            expect=2,
        ),
        "no trace 'no-such'",
    )

    # Comments: the lead answers cy's flag; cy reads the thread, ann does not.
    flagged_uid = flagged[0]["uid"]
    run(
        "comments",
        "add",
        "--project",
        P,
        "--trace",
        flagged_uid,
        "legitimate: tutoring",
        "--as",
        "lena",
    )
    cy_view = as_json(run("comments", "--project", P, "--json", "--as", "cy"))
    assert [c["body"] for c in cy_view] == ["cy is unsure about this one", "legitimate: tutoring"]
    assert as_json(run("comments", "--project", P, "--json", "--as", "ann")) == []
    assert len(as_json(run("comments", "--project", P, "--json", "--as", "lena"))) == 2

    # Reassign and unassign keep every label.
    moved = as_json(
        run("reassign", "--project", P, "--from", "cy", "--to", "ann", "--json", "--as", "lena")
    )
    assert moved["moved"] == 0 and moved["kept_labeled"] + moved["skipped_duplicate"] >= 1
    removed = as_json(
        run(
            "unassign",
            "--project",
            P,
            "--labeler",
            "bob",
            "--include-labeled",
            "--json",
            "--as",
            "lena",
        )
    )
    assert removed["removed"] == len(bob)
    stats = as_json(run("stats", "--project", P, "--json"))
    assert stats["labels_by_status"]["done"] == 19


def test_acting_user_defaults_and_help(run: Any) -> None:
    run("init", "--project", P)
    # Without --as or ANNOTATOR_USER the OS user acts: not a member, so refused in one line.
    one_line_error(run("progress", "--project", P, expect=2), "is not a member")
    one_line_error(run("review", expect=2), "review needs --project")
    for args in (
        ("assign",),
        ("reassign",),
        ("unassign",),
        ("progress",),
        ("agreement",),
        ("review",),
        ("review", "accept"),
        ("review", "set"),
        ("review", "history"),
        ("members",),
        ("members", "add"),
        ("members", "list"),
        ("gold", "set"),
        ("comments",),
        ("comments", "add"),
    ):
        assert "Usage:" in run(*args, "--help").stdout
