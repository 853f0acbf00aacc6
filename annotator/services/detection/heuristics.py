"""Signal detectors behind the evidence tags (../shared/label-schema.md). No model: phrases,
structure and group statistics, each hit kept with the passage or the figures that made it fire
so the labeler sees why.

Trace signals read only what the tag is about (the user's text for elicitation and dataset
requests, the system prompt for identity, tool results for mocked harnesses), at most
:data:`MAX_BLOCK_CHARS` of each block, with patterns that have no nested quantifiers. Language or
script is never a signal by itself: the elicitation phrases are listed in several languages so
that a request is caught whatever language it is written in."""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from annotator.domain.trace import BlockKind, Role, Trace

MAX_BLOCK_CHARS = 20_000


@dataclass(frozen=True)
class Hit:
    """One signal that fired. Trace signals carry a passage (turn, block, start, end, text);
    group signals carry the group and a sentence with the figures instead."""

    tag: str
    signal: str
    weight: float
    detail: str = ""
    turn: int | None = None
    block: int | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    group: str | None = None
    """``cluster:12``, ``account:acct-1`` or ``session:s-9`` for group signals."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


REASONING_ELICIT = _rx(
    # English
    r"show (?:me )?(?:every|each|all(?: of)?|the full|your full|your complete|your)"
    r" (?:\w+ ){0,2}(?:steps?|reasoning|thinking|work(?:ing)?)",
    r"step[- ]by[- ]step",
    r"chain[- ]of[- ]thought",
    r"think (?:out loud|aloud)",
    r"(?:full|complete|entire|verbatim|hidden|internal|raw|whole) (?:\w+ ){0,2}"
    r"(?:reasoning|thinking|thought process|chain of thought|thoughts)",
    r"<think>",
    r"(?:explain|walk (?:me )?through) (?:every|each) step",
    r"(?:repeat|reveal|output|print|dump) your (?:\w+ ){0,2}(?:reasoning|thoughts|thinking)",
    # Chinese
    r"一步一步|逐步(?:推理|思考|分析)?|思维链|思考过程|推理过程|详细(?:的)?推理|展示(?:你的)?(?:完整)?推理",
    # Spanish
    r"paso a paso|cadena de pensamiento|(?:muestra|explica) (?:todo )?tu razonamiento"
    r"|razonamiento completo",
    # French
    r"étape par étape|chaîne de pensée|raisonnement complet"
    r"|(?:montre|détaille|explique)[sz]? (?:tout )?(?:ton|votre) raisonnement",
    # German
    r"schritt für schritt|gedankenkette|denkprozess|vollständige[nr]? (?:begründung|gedankengang)"
    r"|(?:zeige?|erkläre?) (?:deinen|ihren|den) (?:gesamten |vollständigen )?(?:gedankengang|lösungsweg)",
    # Russian
    r"шаг за шагом|цепочк\w* рассуждени\w*|ход (?:твоих |своих |ваших )?мыслей"
    r"|подробно (?:рассужда\w*|объясн\w*)|покажи (?:все )?(?:свои )?рассуждени\w*",
    # Japanese
    r"ステップバイステップ|段階的に|思考過程",
)
DATASET_FORMAT = _rx(
    r"\bjsonl\b",
    r"instruction\s*/\s*output|\"instruction\"\s*:|\binstruction[, ]+(?:input[, ]+)?output\b",
    r"\bchosen\b[^.\n]{0,80}\brejected\b",
    r"preference pairs?|\bdpo\b|\brlhf\b|\bsft\b",
    r"generate \d+ (?:\w+ ){0,3}(?:examples|pairs|samples|questions|prompts|conversations)",
    r"training (?:data|examples|set)|fine-?tun(?:e|ing) (?:data|set)",
    r"(?:as|in) (?:a )?(?:json ?lines|dataset)",
)
GRADER_ROLE = _rx(
    r"\bgrader\b|\bgrading\b",
    r"\brubric\b",
    r"score (?:each|the|both|these) (?:\w+ ){0,2}(?:responses?|answers?|outputs?|candidates?)",
    r"\bmodel a\b[\s\S]{0,2000}?\bmodel b\b",
    r"which (?:response|answer|output) is better",
    r"rate (?:the|each|this) (?:\w+ ){0,2}on a scale",
    r"pairwise (?:comparison|judg\w+|preference)",
)
SAFETY_HARVEST = _rx(
    r"safest (?:answerable )?(?:form|version|rewrite)",
    r"safe[_ -]rewrite",
    r"refused[_ ]part|which part[^.\n]{0,80}refuse",
    r"where (?:you|the model) would (?:start to )?refuse",
    r"borderline (?:requests|prompts|queries)",
)
IDENTITY_CLAIM = _rx(
    r"you are [^.\n]{1,60}?(?:made|built|created|developed|trained) by [^.\n]{1,60}",
    r"(?:never|do not|don't) (?:mention|reveal|disclose|say|admit)[^.\n]{0,60}"
    r"(?:other (?:company|companies|model|models|lab)|(?:underlying|real|true|actual) model"
    r"|who (?:made|built|trained) you|openai|anthropic|claude|gpt|google|gemini)",
    r"pretend (?:to be|you are)[^.\n]{0,60}(?:model|assistant|ai)",
    r"hide (?:your|the) (?:identity|model)",
)
MOCK_TOOL = _rx(
    r"\b(?:mock(?:ed)?|simulated|synthetic|fake|dummy|stub(?:bed)?)\b",
)
HARNESS_PROMPT = _rx(
    r"\bepisode \d+\s*/\s*\d+",
    r"\bseed\s*=\s*\d+",
    r"\bsplit\s*=\s*(?:train|test|dev|val)",
    r"\b[A-Z]{2,}(?:_[A-Z]+)*_\d+\b",
)
EVAL_DECLARED = _rx(
    r"(?:automated )?evaluation run|benchmark\s*=|\beval(?:uation)? harness\b|harness\s*=",
)
ACCESS_FLAGS = re.compile(
    rb'"(access_path|relay_id|proxy|reseller|router|key_rotations\w*|geo_mismatch|'
    rb'region_mismatch)"\s*:\s*("[^"]{0,80}"|[\w.]{1,20})',
    re.IGNORECASE,
)

TRIGGERS: dict[re.Pattern[str], tuple[str, ...]] = {
    REASONING_ELICIT: (
        "step", "chain", "think", "reason", "thought", "work", "一步", "逐步", "思", "推理",
        "paso", "pensamiento", "razonamiento", "étape", "pensée", "raisonnement", "schritt",
        "gedanke", "denkprozess", "begründung", "lösungsweg", "шаг", "рассужд", "мысл",
        "объясн", "ステップ", "段階",
    ),
    DATASET_FORMAT: (
        "jsonl", "instruction", "chosen", "preference", "dpo", "rlhf", "sft", "generate",
        "training", "fine", "json lines", "jsonlines", "dataset",
    ),
    GRADER_ROLE: ("grad", "rubric", "score", "model a", "better", "scale", "pairwise"),
    SAFETY_HARVEST: ("safe", "refus", "borderline"),
    IDENTITY_CLAIM: (" by ", "never", "not ", "don't", "pretend", "hide"),
    MOCK_TOOL: ("mock", "simulat", "synthetic", "fake", "dummy", "stub"),
    HARNESS_PROMPT: ("episode", "seed", "split", "_"),
    EVAL_DECLARED: ("evaluation", "benchmark", "eval", "harness"),
}  # fmt: skip
"""Lower-case substrings one of which every match of the pattern contains: most blocks match
none of them and skip the (slower) regular expression."""

DOMAINS: dict[str, re.Pattern[str]] = {
    "math": _rx(
        r"\b(?:integers?|prove|equation|derivative|integral|remainder|divisible|triangle|"
        r"prime|polynomial|probability|gcd|factorial|sum of|solve for|competition problem)\b"
    ),
    "code": _rx(
        r"\b(?:python|javascript|sql|function|regex|git|compile|bug|code|api|class|print)\b"
    ),
    "science": _rx(r"\b(?:physics|chemistry|biology|moles?|velocity|energy|molecule|cell)\b"),
    "agent": _rx(r"\b(?:tool|agent|environment|episode|browse|click)\b"),
}
HIGH_VALUE = frozenset({"math", "code", "agent"})


def _clip(text: str) -> str:
    return text[:MAX_BLOCK_CHARS]


def _hits_in(
    trace: Trace,
    pattern: re.Pattern[str],
    tag: str,
    signal: str,
    weight: float,
    *,
    roles: Iterable[Role],
    kinds: Iterable[BlockKind] = (BlockKind.TEXT,),
    limit: int = 3,
) -> list[Hit]:
    """Matches of ``pattern`` in the blocks of these roles and kinds; a block without any of
    the pattern's trigger words (a plain substring test) is not searched at all."""
    triggers = TRIGGERS[pattern]
    roles, kinds = frozenset(roles), frozenset(kinds)
    out: list[Hit] = []
    for t, turn in enumerate(trace.turns):
        if turn.role not in roles:
            continue
        for b, block in enumerate(turn.blocks):
            if block.kind not in kinds or not block.text:
                continue
            text = _clip(block.text)
            lowered = text.lower()
            if not any(t in lowered for t in triggers):
                continue
            for m in pattern.finditer(text):
                out.append(Hit(tag, signal, weight, "", t, b, m.start(), m.end(), m.group()))
                if len(out) >= limit:
                    return out
    return out


def trace_hits(trace: Trace, original: bytes | None = None) -> list[Hit]:
    """Trace-level signals of one trace."""
    hits: list[Hit] = []
    user = (Role.USER,)
    hits += _hits_in(
        trace, REASONING_ELICIT, "REASONING_ELICIT", "elicitation phrase", 0.5, roles=user
    )
    hits += _hits_in(
        trace, DATASET_FORMAT, "DATASET_FORMAT", "dataset-format request", 0.4, roles=user
    )
    hits += _hits_in(
        trace, GRADER_ROLE, "GRADER_ROLE", "grader or rubric", 0.4, roles=(Role.SYSTEM, Role.USER)
    )
    hits += _hits_in(
        trace, SAFETY_HARVEST, "SAFETY_BOUNDARY_HARVEST", "refusal probing", 0.5, roles=user
    )
    hits += _hits_in(
        trace,
        IDENTITY_CLAIM,
        "FOREIGN_IDENTITY",
        "identity in system prompt",
        0.5,
        roles=(Role.SYSTEM,),
    )
    tools = (Role.TOOL, Role.USER, Role.ASSISTANT)
    mocked = _hits_in(
        trace,
        MOCK_TOOL,
        "SYNTHETIC_AGENT_HARNESS",
        "mocked tool result",
        0.5,
        roles=tools,
        kinds=(BlockKind.TOOL_RESULT,),
    )
    harness = _hits_in(
        trace, HARNESS_PROMPT, "SYNTHETIC_AGENT_HARNESS", "episode harness", 0.3, roles=user
    )
    if mocked or len(harness) >= 2:
        hits += mocked + harness
    hits += _hits_in(
        trace, EVAL_DECLARED, "EVAL_RUN", "declared evaluation", 0.5, roles=(Role.SYSTEM,)
    )
    if original:
        flags = ACCESS_FLAGS.findall(original[:2_000_000])
        if flags:
            detail = ", ".join(f"{k.decode()}={v.decode().strip(chr(34))}" for k, v in flags[:5])
            hits.append(Hit("ACCESS_OBFUSCATION", "access flags", 0.4, detail))
    return hits


def domains_of(prompt: str) -> set[str]:
    return {name for name, rx in DOMAINS.items() if rx.search(prompt[:MAX_BLOCK_CHARS])}


# -- groups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    trace_id: int
    account: str | None
    session: str | None
    created_at: datetime | None
    domains: frozenset[str]
    system_key: int | None
    """Hash of the system prompt (None without one): a template may live there."""


MIN_TEMPLATE = 3
"""Members before a cluster counts as a template at scale."""
MIN_ACCOUNTS = 3


def _gaps(times: Sequence[datetime]) -> list[float]:
    ordered = sorted(times)
    return [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]


def timing_hits(members: Sequence[Member], group: str) -> list[Hit]:
    """Machine-like timing: regular inter-arrival, tight bursts, or round-the-clock activity."""
    times = [m.created_at for m in members if m.created_at is not None]
    if len(times) < 3:
        return []
    gaps = _gaps(times)
    hits = []
    mean = statistics.fmean(gaps)
    if mean > 0:
        cv = statistics.pstdev(gaps) / mean
        if cv < 0.1 and mean < 3_600:
            hits.append(
                Hit(
                    "AUTOMATION_TIMING",
                    "regular inter-arrival",
                    0.5,
                    f"{len(times)} requests {mean:.0f} s apart (spread {cv:.0%})",
                    group=group,
                )
            )
    if not hits and statistics.median(gaps) <= 10:
        hits.append(
            Hit(
                "AUTOMATION_TIMING",
                "burst",
                0.3,
                f"{len(times)} requests, median gap {statistics.median(gaps):.0f} s",
                group=group,
            )
        )
    hours = {t.hour for t in times}
    if len(times) >= 48 and len(hours) >= 22:
        hits.append(
            Hit(
                "AUTOMATION_TIMING",
                "round the clock",
                0.4,
                f"{len(times)} requests in {len(hours)} of 24 hours",
                group=group,
            )
        )
    return hits


def _siblings(accounts: Sequence[str]) -> bool:
    """Account names that differ only in their last two characters (acct-7f3a01, acct-7f3a02)."""
    if len(accounts) < 2:
        return False
    stems = {a[:-2] for a in accounts if len(a) > 4}
    return len(stems) == 1


def cluster_hits(members: Sequence[Member], cluster_id: int, n_slots: int) -> list[Hit]:
    """Template at scale, coordination across accounts, timing and capability spread."""
    group = f"cluster:{cluster_id}"
    hits: list[Hit] = []
    n = len(members)
    accounts = sorted({m.account for m in members if m.account})
    if n >= MIN_TEMPLATE:
        hits.append(
            Hit(
                "TEMPLATE_AT_SCALE",
                "template repeated",
                min(0.3 + 0.05 * n, 0.6),
                f"{n} traces share one prompt template ({n_slots} varying slots)",
                group=group,
            )
        )
    if len(accounts) >= MIN_ACCOUNTS or (n >= MIN_TEMPLATE and _siblings(accounts)):
        hits.append(
            Hit(
                "ACCOUNT_COORDINATION",
                "accounts per template",
                0.4,
                f"{len(accounts)} accounts send this template",
                group=group,
            )
        )
    if n >= MIN_TEMPLATE:
        hits += timing_hits(members, group)
        hits += capability_hits(members, group)
    return hits


def capability_hits(members: Sequence[Member], group: str) -> list[Hit]:
    n = len(members)
    covered = set().union(*(m.domains for m in members)) if members else set()
    high = sum(1 for m in members if m.domains & HIGH_VALUE)
    if len(covered) >= 3:
        return [
            Hit(
                "CAPABILITY_SWEEP",
                "capability spread",
                0.3,
                f"{n} traces cover {', '.join(sorted(covered))}",
                group=group,
            )
        ]
    if n >= MIN_TEMPLATE and high / n >= 0.8:
        return [
            Hit(
                "CAPABILITY_SWEEP",
                "high-value concentration",
                0.3,
                f"{high} of {n} traces are math, code or agent tasks",
                group=group,
            )
        ]
    return []


def account_hits(members: Sequence[Member], kind: str, key: str) -> list[Hit]:
    """Per account or session: timing, and a system prompt repeated as a template."""
    group = f"{kind}:{key}"
    hits = timing_hits(members, group)
    systems = [m.system_key for m in members if m.system_key is not None]
    if systems:
        top = max(set(systems), key=systems.count)
        count = systems.count(top)
        if count >= MIN_TEMPLATE:
            hits.append(
                Hit(
                    "TEMPLATE_AT_SCALE",
                    "system prompt repeated",
                    0.3,
                    f"{count} traces of this {kind} share one system prompt",
                    group=group,
                )
            )
    if kind == "account" and len(members) >= 20:
        hits += capability_hits(members, group)
    return hits


def system_key(system_text: str) -> int | None:
    """A key equal for equal system prompts within one run (not stored)."""
    return hash(system_text[:MAX_BLOCK_CHARS]) if system_text.strip() else None
