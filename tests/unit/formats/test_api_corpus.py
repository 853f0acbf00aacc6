"""The real API recordings in the shared corpus import with the right structure.

pydantic-ai VCR cassettes (Anthropic, OpenAI Responses, DeepSeek, HF router R1) go through
``iter_cassette_records`` and per-record detection; the LLaMA-Factory typed-part file is read line
by line here (the generic JSONL container belongs to another module)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from annotator.domain.trace import BlockKind, Trace
from annotator.formats.base import SourceRecord
from annotator.formats.cassette import iter_cassette_records
from annotator.formats.registry import detect_reader


def cassette_traces(path: Path, expected_format: str) -> list[Trace]:
    traces: list[Trace] = []
    for record in iter_cassette_records(path):
        reader = detect_reader(record.data)
        assert reader.name == expected_format, (record.line, reader.name)
        traces.extend(reader.read(record))
    return traces


def roles(trace: Trace) -> list[str]:
    return [t.role.value for t in trace.turns]


def kinds(trace: Trace, turn: int) -> list[str]:
    return [b.kind.value for b in trace.turns[turn].blocks]


@pytest.fixture(scope="module")
def pydantic_ai(corpus_dir: Path) -> Path:
    return corpus_dir / "pydantic-ai"


def test_anthropic_cassette_thinking_signature_and_tool_use(pydantic_ai: Path) -> None:
    path = pydantic_ai / "test_anthropic_tool_with_thinking.yaml"
    first, second = cassette_traces(path, "anthropic")

    assert roles(first) == ["user", "assistant"]
    assert kinds(first, 1) == ["reasoning", "text", "tool_call"]
    thinking, _, call = first.turns[1].blocks
    assert thinking.signature is not None and thinking.signature.startswith("EqEECkYICxgC")
    assert thinking.text.startswith("The user is asking about the largest city")
    assert (call.tool_name, call.tool_call_id, call.text) == (
        "get_user_country",
        "toolu_01YGzqpRE16Vricda3Aqcejo",
        "{}",
    )
    assert first.uid == "msg_01WvueFjZVbHcj4H4zUzeGv2"
    assert first.meta.model == "claude-sonnet-4-20250514"  # response model over "claude-sonnet-4-0"
    assert (first.meta.input_tokens, first.meta.output_tokens) == (398, 155)
    assert first.meta.extra["stop_reason"] == "tool_use"
    assert first.meta.extra["uri"] == "https://api.anthropic.com/v1/messages?beta=true"
    assert (first.meta.source_file, first.meta.source_line) == (str(path), 1)

    assert roles(second) == ["user", "assistant", "tool", "assistant"]
    (result,) = second.turns[2].blocks
    assert (result.kind, result.text, result.tool_call_id) == (
        BlockKind.TOOL_RESULT,
        "Mexico",
        "toolu_01YGzqpRE16Vricda3Aqcejo",
    )
    assert kinds(second, 3) == ["text"]
    assert "Mexico City" in second.turns[3].blocks[0].text
    assert (second.meta.input_tokens, second.meta.output_tokens, second.meta.source_line) == (
        566,
        126,
        2,
    )
    assert second.uid == "msg_01SZ8KP8HhB1TxP6Ybbv6iKz"
    assert isinstance(second.original, dict) and set(second.original) >= {"request", "response"}


def test_openai_responses_cassette_summaries_and_encrypted_reasoning(pydantic_ai: Path) -> None:
    first, second = cassette_traces(
        pydantic_ai / "test_openai_responses_model_thinking_part.yaml", "openai_responses"
    )
    assert roles(first) == ["user", "assistant"]
    assert kinds(first, 1) == ["reasoning"] * 6 + ["redacted_reasoning", "text"]
    blocks = first.turns[1].blocks
    assert all(b.summary for b in blocks[:6])
    assert blocks[0].text.startswith("**Considering street crossing safety**")
    assert blocks[6].opaque_chars > 1000 and blocks[6].text == ""
    assert blocks[7].text.startswith("Here’s a simple, safe way to cross a street")
    meta = first.meta
    assert (meta.model, meta.input_tokens, meta.output_tokens, meta.reasoning_tokens) == (
        "gpt-5-2025-08-07",
        13,
        2199,
        1920,
    )
    assert meta.created_at == datetime.fromtimestamp(1757686928, UTC)
    assert first.uid == "resp_68c42c902794819cb9335264c342f65407460311b0c8d3de"

    # Turn 2 sends the first reasoning item back in ``input``.
    assert roles(second) == ["user", "assistant", "user", "assistant"]
    assert kinds(second, 1) == kinds(first, 1)
    assert kinds(second, 3) == ["reasoning"] * 5 + ["redacted_reasoning", "text"]
    assert second.meta.reasoning_tokens == 2112
    assert second.prompt == "How do I cross the street?"


def test_deepseek_cassette_reasoning_content(pydantic_ai: Path) -> None:
    (trace,) = cassette_traces(
        pydantic_ai / "test_deepseek_model_thinking_part.yaml", "openai_chat"
    )
    assert roles(trace) == ["user", "assistant"]
    assert kinds(trace, 1) == ["reasoning", "text"]
    reasoning, answer = trace.turns[1].blocks
    assert reasoning.text.startswith("Okay, the user is asking how to cross the street.")
    assert not reasoning.truncated and not reasoning.summary
    assert answer.text.startswith("Crossing the street safely")
    meta = trace.meta
    assert (meta.model, meta.input_tokens, meta.output_tokens, meta.reasoning_tokens) == (
        "deepseek-reasoner",
        12,
        789,
        415,
    )
    assert meta.created_at == datetime(2025, 4, 22, 14, 9, 11, tzinfo=UTC)
    assert trace.uid == "181d9669-2b3a-445e-bd13-2ebff2c378f6"


def test_hf_router_r1_inline_think(pydantic_ai: Path) -> None:
    first, second = cassette_traces(pydantic_ai / "test_hf_model_thinking_part.yaml", "openai_chat")
    assert roles(first) == ["user", "assistant"]
    assert kinds(first, 1) == ["reasoning", "text"]
    reasoning, answer = first.turns[1].blocks
    assert reasoning.text.startswith('Okay, the user asked "How do I cross the street?"')
    assert "<think>" not in reasoning.text and "</think>" not in answer.text
    assert answer.text.startswith("Crossing the street safely requires")
    assert first.truncated_count == 0
    assert (first.meta.model, first.meta.input_tokens, first.meta.output_tokens) == (
        "deepseek-ai/DeepSeek-R1",
        10,
        995,
    )
    assert first.meta.reasoning_tokens is None
    assert roles(second) == ["user", "assistant", "user", "assistant"]
    assert kinds(second, 1) == ["reasoning", "text"]
    assert kinds(second, 3) == ["reasoning", "text"]
    assert second.uid == "oV1n6B7-zqrih-9c4b15fafffad6d3"


def test_llama_factory_typed_parts_totals(corpus_dir: Path) -> None:
    path = corpus_dir / "LLaMA-Factory" / "reason_tool_use_demo_50.jsonl"
    counts: Counter[str] = Counter()
    role_counts: Counter[str] = Counter()
    tool_names: Counter[str] = Counter()
    traces: list[Trace] = []
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            record = SourceRecord(data=orjson.loads(line), source_file=str(path), line=line_no)
            reader = detect_reader(record.data)
            assert reader.name == "openai_chat"
            (trace,) = reader.read(record)
            traces.append(trace)
            for turn in trace.turns:
                role_counts[turn.role.value] += 1
                for block in turn.blocks:
                    counts[block.kind.value] += 1
                    if block.kind is BlockKind.TOOL_CALL:
                        assert block.tool_name
                        tool_names[block.tool_name] += 1
    assert len(traces) == 50
    assert counts["reasoning"] == 112
    assert counts["tool_call"] == 68
    assert counts["tool_result"] == 42
    assert counts["redacted_reasoning"] == 0
    assert role_counts == {"system": 50, "user": 70, "assistant": 112, "tool": 42}
    assert all(t.turns[0].role.value == "system" for t in traces)
    assert tool_names["circle_area"] >= 5
    # Record 3: reasoning, two parallel tool calls, the tool's answer, then reasoning + answer.
    third = traces[2]
    assert roles(third)[:5] == ["system", "user", "assistant", "tool", "assistant"]
    assert kinds(third, 2) == ["reasoning", "tool_call", "tool_call"]
    assert third.turns[2].blocks[1].text == '{\n  "radius": 1.5\n}'
    assert kinds(third, 4) == ["reasoning", "text"]
    assert third.meta.source_line == 3 and third.meta.source_format == "openai_chat"
    assert len({t.uid for t in traces}) == 50
