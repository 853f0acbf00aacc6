"""Stored suggestions on the demo: signals fire where the answer key says, each with the passage
that made it fire; never a label; queue ordering; incremental refresh after an import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator.services.demo import demo_files
from annotator.services.detection.suggest import (
    DETECTOR,
    compute_suggestions,
    ordered_trace_ids,
    run_detection,
    suggestion_for,
)
from annotator.services.importing import import_files
from annotator.store.codec import decode_turns
from annotator.store.database import Database
from annotator.store.models import LabelEvent, LabelRow, Suggestion, TraceRow
from tests.unit.detection.conftest import Demo, load_demo


def test_group_a_gets_reasoning_elicit_with_the_passage_and_group_evidence(demo: Demo) -> None:
    for tid in demo.group("A"):
        s = suggestion_for(demo.db, tid)
        assert s is not None and s.detector == DETECTOR
        assert s.verdict == "suspected_distillation" and s.score >= 0.9
        assert {"REASONING_ELICIT", "TEMPLATE_AT_SCALE", "ACCOUNT_COORDINATION",
                "AUTOMATION_TIMING"} <= set(s.tags)  # fmt: skip
        with demo.db.session() as session:
            row = session.get(TraceRow, tid)
            assert row is not None
            turns = decode_turns(row.turns_json)
        passages = [e for e in s.evidence if e["tag"] == "REASONING_ELICIT"]
        assert passages
        for e in passages:
            text = turns[e["turn"]].blocks[e["block"]].text
            assert text[e["start"] : e["end"]] == e["text"]
        groups = {e["group"] for e in s.evidence if "group" in e}
        assert any(g.startswith("cluster:") for g in groups)
        timing = next(e for e in s.evidence if e["tag"] == "AUTOMATION_TIMING")
        assert "90 s apart" in timing["detail"]
        coord = next(e for e in s.evidence if e["tag"] == "ACCOUNT_COORDINATION")
        assert coord["detail"].startswith("8 accounts")


def test_suggestions_follow_the_answer_key_on_most_demo_traces(demo: Demo) -> None:
    agree = 0
    for uid, tid in demo.ids.items():
        s = suggestion_for(demo.db, tid)
        assert s is not None
        agree += s.verdict == demo.key[uid]["verdict"]
    assert agree >= 50, agree
    for uid in ("r1-sourdough-4f1c", "sg-lease-clause-77c4", "msg_01LdgNumericStep1"):
        s = suggestion_for(demo.db, demo.ids[uid])
        assert s is not None and s.verdict == "legitimate" and s.tags == ()
    relay = suggestion_for(demo.db, demo.ids["resp_relaygw17000000000000451"])
    assert relay is not None and relay.tags == ("ACCESS_OBFUSCATION",)
    evals = suggestion_for(demo.db, demo.ids["resp_evr0209a3s0117"])
    assert evals is not None and "EVAL_RUN" in evals.tags and evals.verdict == "legitimate"


def test_signals_for_each_campaign(demo: Demo) -> None:
    expect = {
        "B": "DATASET_FORMAT",
        "C": "FOREIGN_IDENTITY",
        "D": "GRADER_ROLE",
        "E": "SYNTHETIC_AGENT_HARNESS",
        "F": "SAFETY_BOUNDARY_HARVEST",
        "G": "REASONING_ELICIT",
    }
    for group, tag in expect.items():
        for tid in demo.group(group):
            s = suggestion_for(demo.db, tid)
            assert s is not None and tag in s.tags, (group, s)


def test_a_suggestion_is_never_a_label(demo: Demo) -> None:
    with demo.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LabelRow)) == 0
        assert session.scalar(select(func.count()).select_from(LabelEvent)) == 0
        assert session.scalar(select(func.count()).select_from(Suggestion)) == len(demo.ids)


def test_recomputing_replaces_rather_than_duplicates(demo: Demo) -> None:
    assert compute_suggestions(demo.db, demo.project_id) == len(demo.ids)
    with demo.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Suggestion)) == len(demo.ids)


def test_queue_ordering_by_score_and_uncertainty(demo: Demo) -> None:
    by_score = ordered_trace_ids(demo.db, demo.project_id, by="score")
    assert sorted(by_score) == sorted(demo.ids.values())
    scores = [suggestion_for(demo.db, t).score for t in by_score]  # type: ignore[union-attr]
    assert scores == sorted(scores, reverse=True)
    uncertain = ordered_trace_ids(demo.db, demo.project_id, by="uncertainty")
    distance = [abs(suggestion_for(demo.db, t).score - 0.6) for t in uncertain]  # type: ignore[union-attr]
    assert distance == sorted(distance)
    assert uncertain[0] != by_score[0]
    with pytest.raises(ValueError, match="score"):
        ordered_trace_ids(demo.db, demo.project_id, by="random")  # type: ignore[arg-type]


def test_traces_without_a_suggestion_come_last(db: Database, tmp_path: Path) -> None:
    demo = load_demo(db, tmp_path)
    first = sorted(demo.ids.values())[:5]
    compute_suggestions(db, demo.project_id, trace_ids=first)
    order = ordered_trace_ids(db, demo.project_id)
    assert set(order[:5]) == set(first) and order[5:] == sorted(set(demo.ids.values()) - set(first))


def test_refresh_after_an_import_touches_new_traces_and_their_groups(
    db: Database, tmp_path: Path
) -> None:
    files = demo_files()
    chat = [f for f in files if f.name == "openai_chat.jsonl"]
    demo = load_demo(db, tmp_path, chat)
    run_detection(db, demo.project_id)
    with db.session() as session:
        before = {
            t: (s, c) for t, s, c in session.execute(
                select(Suggestion.trace_id, Suggestion.score, Suggestion.created_at)
            )
        }  # fmt: skip
    import_files(db, "demo", [f for f in files if f.name == "alpaca.jsonl"], reject_dir=tmp_path)
    run = run_detection(db, demo.project_id, full=False)
    assert run.clusters.new_traces == 8 and not run.cancelled
    with db.session() as session:
        after = {
            uid: (s.created_at, s.trace_id) for uid, s in session.execute(
                select(TraceRow.uid, Suggestion).join(Suggestion, Suggestion.trace_id == TraceRow.id)
            )
        }  # fmt: skip
    assert len(after) == 16 + 8
    # A chat trace from an unrelated account keeps its suggestion row as it was.
    kept = demo.ids["chatcmpl-parcelly-tkt-88213"]
    assert after["chatcmpl-parcelly-tkt-88213"][0] == before[kept][1]
    # The harbourline classifier account got new traces: its chat trace was recomputed.
    redone = demo.ids["chatcmpl-intentclf-0007"]
    assert after["chatcmpl-intentclf-0007"][0] > before[redone][1]
