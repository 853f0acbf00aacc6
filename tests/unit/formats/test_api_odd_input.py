"""Weird-but-JSON input never crashes a reader: only Traces or RecordError come out.

A seeded generator builds values from the readers' own key and type vocabulary (so deep code paths
are reached), and a mutator swaps random nested values of valid records for odd ones."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.domain.trace import Trace
from annotator.formats.anthropic import ANTHROPIC
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.cassette import iter_cassette_records
from annotator.formats.messages import turns_from_messages
from annotator.formats.openai_chat import OPENAI_CHAT
from annotator.formats.openai_responses import OPENAI_RESPONSES

READERS = (ANTHROPIC, OPENAI_RESPONSES, OPENAI_CHAT)
KEYS = [
    "role",
    "content",
    "messages",
    "request",
    "response",
    "choices",
    "message",
    "delta",
    "type",
    "text",
    "thinking",
    "signature",
    "data",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "input",
    "output",
    "id",
    "call_id",
    "summary",
    "encrypted_content",
    "system",
    "usage",
    "model",
    "created",
    "created_at",
    "reasoning_content",
    "reasoning",
    "thinking_blocks",
    "value",
    "tool_use_id",
    "tool_call_id",
    "metadata",
    "body",
    "instructions",
    "object",
    "stop_reason",
    "finish_reason",
    "custom",
    "reasoning_details",
    "conversation",
    "incomplete_details",
    "prompt_tokens",
    "completion_tokens",
    "completion_tokens_details",
    "input_tokens",
    "output_tokens",
    "user",
    "session_id",
    "refusal",
    "status",
]
TYPES = [
    "text",
    "input_text",
    "output_text",
    "reasoning",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "tool_call",
    "function_call",
    "function_call_output",
    "message",
    "image_url",
    "summary_text",
    "reasoning_text",
    "web_search_call",
    "custom_tool_call",
    "refusal",
    "reasoning.encrypted",
    "reasoning.summary",
    "weird",
]
ROLES = ["user", "assistant", "system", "tool", "developer", "model", "nobody"]
ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1e308,
    float("nan"),
    "",
    "x" * 200_000,
    "<think>never closed",
    "</think>",
    "{not json",
    '{"name": 5, "arguments": [1]}',
    [],
    [[[]]],
    {},
    [None],
    {"": None},
]


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 4 or pick < 0.3:
        return rng.choice(ODD)
    if pick < 0.4:
        return rng.choice(TYPES + ROLES)
    if pick < 0.6:
        return [odd_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    out: dict[str, Any] = {}
    for key in rng.sample(KEYS, rng.randint(1, 6)):
        if key == "type":
            out[key] = rng.choice([*TYPES, *ODD[:3]])
        elif key == "role":
            out[key] = rng.choice([*ROLES, 3])
        else:
            out[key] = odd_value(rng, depth + 1)
    return out


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def mutate(value: Any, rng: random.Random) -> Any:
    value = copy.deepcopy(value)
    targets = [p for p in paths(value) if p]
    for target in rng.sample(targets, min(len(targets), rng.randint(1, 3))):
        parent = value
        try:
            for step in target[:-1]:
                parent = parent[step]
            parent[target[-1]] = odd_value(rng, 3)
        except (KeyError, IndexError, TypeError):
            continue
    return value


def check(data: Any) -> None:
    record = SourceRecord(data=data, source_file="odd.jsonl", line=1)
    for reader in READERS:
        assert reader.detect(data) in (True, False)
        try:
            traces = reader.read(record)
        except RecordError:
            continue
        assert traces and all(isinstance(t, Trace) for t in traces)
    if isinstance(data, dict):
        with contextlib.suppress(RecordError):
            turns_from_messages(data.get("messages"), field="messages")


@pytest.fixture(scope="module")
def seeds(corpus_dir: Path) -> list[Any]:
    records: list[Any] = []
    for path in sorted((corpus_dir / "pydantic-ai").glob("*.yaml")):
        records.extend(r.data for r in iter_cassette_records(path))
    with (corpus_dir / "LLaMA-Factory" / "reason_tool_use_demo_50.jsonl").open("rb") as handle:
        records.extend(orjson.loads(line) for line, _ in zip(handle, range(5), strict=False))
    return records


def test_generated_odd_shapes_give_traces_or_record_errors() -> None:
    rng = random.Random(20260128)
    for _ in range(3000):
        check(odd_value(rng))


def test_mutated_real_records_give_traces_or_record_errors(seeds: list[Any]) -> None:
    rng = random.Random(7)
    for _ in range(60):
        for seed in seeds:
            check(mutate(seed, rng))


@pytest.mark.parametrize("value", ODD)
def test_scalar_and_empty_inputs(value: Any) -> None:
    check(value)
    check({"messages": value})
    check({"request": {"messages": [{"role": "user", "content": value}]}, "response": value})
    check({"object": "response", "output": [value]})
    check({"type": "message", "content": [value]})
