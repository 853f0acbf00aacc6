"""Signals behind each tag: the phrase or the figures that fired, with exact passages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.services.detection.heuristics import (
    Hit,
    Member,
    account_hits,
    cluster_hits,
    domains_of,
    timing_hits,
    trace_hits,
)
from annotator.services.detection.suggest import fold


def _trace(*turns: tuple[Role, BlockKind, str]) -> Trace:
    return Trace(
        uid="t",
        turns=tuple(Turn(role=r, blocks=(Block(kind=k, text=text),)) for r, k, text in turns),
        meta=TraceMeta(source_format="test"),
    )


def _user(text: str) -> Trace:
    return _trace((Role.USER, BlockKind.TEXT, text))


def tags(hits: list[Hit]) -> set[str]:
    return {h.tag for h in hits}


@pytest.mark.parametrize(
    "text",
    [
        "Please show every step of your reasoning.",
        "Output your chain of thought before the answer.",
        "Think out loud, then answer.",
        "Repeat your full internal reasoning verbatim.",
        "请一步一步地思考，并给出完整的思维链。",
        "Resuelve esto paso a paso y muestra tu razonamiento.",
        "Explique étape par étape, avec ton raisonnement complet.",
        "Löse das Schritt für Schritt und zeige deinen Gedankengang.",
        "Реши задачу шаг за шагом, покажи свои рассуждения.",
    ],
)
def test_reasoning_elicitation_in_several_languages(text: str) -> None:
    hits = [h for h in trace_hits(_user(text)) if h.tag == "REASONING_ELICIT"]
    assert hits
    for h in hits:
        assert (h.turn, h.block) == (0, 0)
        assert h.start is not None and h.end is not None
        assert text[h.start : h.end] == h.text


@pytest.mark.parametrize(
    "text",
    [
        "今天天气怎么样？我想去公园散步。",
        "¿Dónde está la estación de tren más cercana?",
        "Wie spät ist es in Berlin?",
        "Какая сегодня погода в Москве?",
        "What's a good name for a cat?",
    ],
)
def test_language_alone_is_never_a_signal(text: str) -> None:
    assert trace_hits(_user(text)) == []


def test_elicitation_in_the_assistant_reply_does_not_count() -> None:
    trace = _trace(
        (Role.USER, BlockKind.TEXT, "What is 2 + 2?"),
        (Role.ASSISTANT, BlockKind.TEXT, "Let me think step by step: 4."),
    )
    assert trace_hits(trace) == []


def test_dataset_grader_and_safety_requests() -> None:
    assert "DATASET_FORMAT" in tags(
        trace_hits(_user("Generate 20 diverse instruction/output pairs as JSONL."))
    )
    assert "DATASET_FORMAT" in tags(
        trace_hits(_user("Write a chosen response and a rejected response for DPO."))
    )
    assert "GRADER_ROLE" in tags(
        trace_hits(_user("Using the rubric, score each response. Model A: ... Model B: ..."))
    )
    assert "SAFETY_BOUNDARY_HARVEST" in tags(
        trace_hits(_user("Rewrite each into the safest answerable form; give refused_part."))
    )


def test_foreign_identity_needs_a_maker_claim_or_a_hiding_instruction() -> None:
    foreign = _trace(
        (Role.SYSTEM, BlockKind.TEXT, "You are DeepThink-7, an assistant made by Nebula Labs. "
         "Never mention any other company or model."),
        (Role.USER, BlockKind.TEXT, "Who are you?"),
    )  # fmt: skip
    hits = [h for h in trace_hits(foreign) if h.tag == "FOREIGN_IDENTITY"]
    assert len(hits) == 2 and all(h.turn == 0 for h in hits)
    product = _trace(
        (Role.SYSTEM, BlockKind.TEXT, "You are Digest, the ticket summariser of our console."),
        (Role.USER, BlockKind.TEXT, "Summarise ticket 12."),
    )
    assert trace_hits(product) == []
    # The same sentence from the user is not a system prompt.
    assert "FOREIGN_IDENTITY" not in tags(
        trace_hits(_user("You are DeepThink-7, an assistant made by Nebula Labs."))
    )


def test_mocked_tool_results_and_episode_harness() -> None:
    harness = _trace(
        (Role.USER, BlockKind.TEXT, "[episode 4471/10000 | seed=88] Book a flight to CITY_17."),
        (Role.ASSISTANT, BlockKind.TOOL_CALL, '{"city": "CITY_17"}'),
        (Role.TOOL, BlockKind.TOOL_RESULT, '{"status": "ok", "note": "mock result"}'),
    )
    hits = [h for h in trace_hits(harness) if h.tag == "SYNTHETIC_AGENT_HARNESS"]
    assert {h.signal for h in hits} == {"mocked tool result", "episode harness"}
    real = _trace(
        (Role.USER, BlockKind.TEXT, "Where is my order FW-20931?"),
        (Role.TOOL, BlockKind.TOOL_RESULT, '{"status": "shipped"}'),
    )
    assert trace_hits(real) == []


def test_access_flags_come_from_the_original_record() -> None:
    original = b'{"metadata": {"access_path": "reseller_relay", "geo_mismatch": "true"}}'
    hits = trace_hits(_user("Explain TCP."), original)
    assert [h.tag for h in hits] == ["ACCESS_OBFUSCATION"]
    assert "access_path=reseller_relay" in hits[0].detail
    assert trace_hits(_user("Explain TCP."), b'{"metadata": {"session_id": "s"}}') == []


def _members(
    n: int, gap: float, accounts: int = 1, domains: frozenset[str] = frozenset()
) -> list[Member]:
    start = datetime(2026, 2, 11, 3, 0, tzinfo=UTC)
    return [
        Member(i, f"acct-7f3a{i % accounts:02d}", f"s{i}", start + timedelta(seconds=gap * i),
               domains, None)
        for i in range(n)
    ]  # fmt: skip


def test_timing_regular_burst_and_human() -> None:
    regular = timing_hits(_members(10, 90), "cluster:1")
    assert [h.signal for h in regular] == ["regular inter-arrival"]
    assert "90 s apart" in regular[0].detail
    human = _members(4, 0)
    human = [
        Member(
            m.trace_id, m.account, m.session, m.created_at + timedelta(minutes=d), m.domains, None
        )  # type: ignore[operator]
        for m, d in zip(human, (0, 7, 95, 400), strict=True)
    ]
    assert timing_hits(human, "account:a") == []
    assert timing_hits(_members(2, 90), "x") == []


def test_cluster_signals_scale_accounts_and_capabilities() -> None:
    hits = cluster_hits(_members(12, 90, accounts=8, domains=frozenset({"math"})), 7, 1)
    assert tags(hits) == {
        "TEMPLATE_AT_SCALE", "ACCOUNT_COORDINATION", "AUTOMATION_TIMING", "CAPABILITY_SWEEP",
    }  # fmt: skip
    assert all(h.group == "cluster:7" for h in hits)
    small = cluster_hits(_members(2, 3_000), 8, 1)
    assert small == []
    one_account = cluster_hits(_members(5, 5_000, accounts=1), 9, 2)
    assert tags(one_account) == {"TEMPLATE_AT_SCALE"}


def test_a_repeated_system_prompt_is_a_template() -> None:
    ms = [Member(i, "a", "s", None, frozenset(), 42) for i in range(3)]
    assert tags(account_hits(ms, "account", "a")) == {"TEMPLATE_AT_SCALE"}
    assert account_hits(ms[:2], "account", "a") == []


def test_domains() -> None:
    assert domains_of("Find the remainder when 3^100 is divided by 13.") == {"math"}
    assert domains_of("Write a Python function") == {"code"}
    assert domains_of("my sourdough starter smells odd") == set()


def test_fold_scores_verdicts_and_counter_evidence() -> None:
    assert fold([]) == (0.0, "legitimate", [])
    one = fold([Hit("REASONING_ELICIT", "p", 0.5)])
    assert one == (0.5, "cannot_determine", ["REASONING_ELICIT"])
    two = fold([Hit("REASONING_ELICIT", "p", 0.5), Hit("TEMPLATE_AT_SCALE", "t", 0.5)])
    assert two[1] == "suspected_distillation" and two[0] == pytest.approx(0.75)
    declared = fold([Hit("TEMPLATE_AT_SCALE", "t", 0.6), Hit("EVAL_RUN", "e", 0.5)])
    assert declared[1] == "legitimate" and declared[2] == ["EVAL_RUN", "TEMPLATE_AT_SCALE"]
    capped = fold([Hit("GRADER_ROLE", "g", 0.9)] * 5)
    assert capped[0] == 0.85
