"""The shared chat-message normaliser: every provider's reasoning channel, tools and parts."""

from __future__ import annotations

from typing import Any

import pytest

from annotator.domain.trace import BlockKind, Role
from annotator.formats.base import RecordError
from annotator.formats.messages import parse_time, turns_from_messages, usage_tokens


def kinds(turn: Any) -> list[str]:
    return [b.kind.value for b in turn.blocks]


def test_string_and_part_contents_keep_roles_in_order() -> None:
    turns = turns_from_messages(
        [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "http://evil.example/x.png"}},
                ],
            },
            {"role": "assistant", "content": "Fine."},
        ],
        field="messages",
    )
    assert [t.role for t in turns] == [Role.SYSTEM, Role.USER, Role.ASSISTANT]
    assert [b.text for b in turns[1].blocks] == ["Look", "[image]"]
    assert "evil.example" not in "".join(b.text for t in turns for b in t.blocks)


def test_deepseek_reasoning_content_comes_before_the_answer() -> None:
    (turn,) = turns_from_messages(
        [{"role": "assistant", "content": "42", "reasoning_content": "6 times 7"}], field="m"
    )
    assert kinds(turn) == ["reasoning", "text"]
    assert turn.blocks[0].text == "6 times 7"


def test_groq_reasoning_field() -> None:
    (turn,) = turns_from_messages(
        [{"role": "assistant", "content": "Paris", "reasoning": "Capital of France."}], field="m"
    )
    assert kinds(turn) == ["reasoning", "text"]


def test_litellm_thinking_blocks_win_over_duplicated_reasoning_content() -> None:
    (turn,) = turns_from_messages(
        [
            {
                "role": "assistant",
                "content": "Done.",
                "reasoning_content": "step one",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "step one", "signature": "sig=="},
                    {"type": "redacted_thinking", "data": "abcdef"},
                ],
            }
        ],
        field="m",
    )
    assert kinds(turn) == ["reasoning", "redacted_reasoning", "text"]
    assert turn.blocks[0].signature == "sig=="
    assert turn.blocks[1].opaque_chars == 6
    assert turn.blocks[1].text == ""


def test_inline_think_tags_split_and_unclosed_is_truncated() -> None:
    turns = turns_from_messages(
        [
            {"role": "assistant", "content": "<think>plan</think>Answer"},
            {"role": "assistant", "content": "<think>still going"},
        ],
        field="m",
    )
    assert kinds(turns[0]) == ["reasoning", "text"]
    assert [b.truncated for b in turns[1].blocks] == [True]


def test_inline_tags_in_user_text_are_not_reasoning() -> None:
    (turn,) = turns_from_messages([{"role": "user", "content": "<think>x</think>"}], field="m")
    assert kinds(turn) == ["text"]


def test_stray_tag_is_literal_when_reasoning_is_already_explicit() -> None:
    (turn,) = turns_from_messages(
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "value": "thinking"},
                    {"type": "text", "value": "The answer.\n</think>"},
                ],
            }
        ],
        field="m",
    )
    assert kinds(turn) == ["reasoning", "text"]
    assert "</think>" in turn.blocks[1].text


def test_tool_calls_and_tool_messages() -> None:
    turns = turns_from_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get", "arguments": '{"q": 1}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "raw", "arguments": "not json"},
                    },
                    {
                        "id": "call_3",
                        "type": "function",
                        "function": {"name": "obj", "arguments": {"a": [1]}},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "name": "get", "content": "result"},
        ],
        field="messages",
    )
    assert [t.role for t in turns] == [Role.ASSISTANT, Role.TOOL]
    calls = turns[0].blocks
    assert [b.kind for b in calls] == [BlockKind.TOOL_CALL] * 3
    assert [(b.tool_name, b.tool_call_id) for b in calls] == [
        ("get", "call_1"),
        ("raw", "call_2"),
        ("obj", "call_3"),
    ]
    assert calls[0].text == '{\n  "q": 1\n}'
    assert calls[1].text == "not json"
    assert calls[2].text == '{\n  "a": [\n    1\n  ]\n}'
    (result,) = turns[1].blocks
    assert result.kind is BlockKind.TOOL_RESULT
    assert (result.text, result.tool_call_id, result.tool_name) == ("result", "call_1", "get")


def test_llama_factory_typed_parts() -> None:
    turns = turns_from_messages(
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "value": "I should call it."},
                    {
                        "type": "tool_call",
                        "value": '{"name": "circle_area", "arguments": {"radius": 2}}',
                    },
                ],
            },
            {"role": "tool", "content": [{"type": "text", "value": "12.57"}]},
        ],
        field="messages",
    )
    assert kinds(turns[0]) == ["reasoning", "tool_call"]
    assert turns[0].blocks[1].tool_name == "circle_area"
    assert turns[0].blocks[1].text == '{\n  "radius": 2\n}'
    assert turns[1].blocks[0].text == "12.57"


def test_anthropic_tool_result_in_user_message_becomes_tool_turn() -> None:
    turns = turns_from_messages(
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "Mexico"}],
                    },
                    {"type": "text", "text": "and now?"},
                ],
            },
        ],
        field="messages",
    )
    assert [t.role for t in turns] == [Role.TOOL, Role.USER]
    assert turns[0].blocks[0].tool_call_id == "toolu_1"
    assert turns[0].blocks[0].text == "Mexico"


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ("not a list", "messages"),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b"},
                {"role": "user", "content": 5},
            ],
            "messages[2].content",
        ),
        ([{"content": "no role"}], "messages[0].role"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        (["just a string"], "messages[0]"),
        (
            [{"role": "user", "content": [{"type": "text", "text": 3}]}],
            "messages[0].content[0].text",
        ),
        ([{"role": "user", "content": [7]}], "messages[0].content[0]"),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 12}}]}],
            "messages[0].tool_calls[0].function.arguments",
        ),
        ([{"role": "assistant", "tool_calls": {"a": 1}}], "messages[0].tool_calls"),
        (
            [{"role": "assistant", "tool_calls": [{"function": "x", "arguments": True}]}],
            "messages[0].tool_calls[0].arguments",
        ),
        ([{"role": "assistant", "reasoning_content": ["x"]}], "messages[0].reasoning_content"),
        (
            [{"role": "assistant", "thinking_blocks": [{"type": "thinking", "thinking": 1}]}],
            "messages[0].thinking_blocks[0].thinking",
        ),
        ([{"role": "tool", "content": 1.5}], "messages[0].content"),
    ],
)
def test_wrong_types_name_the_field(messages: Any, field: str) -> None:
    with pytest.raises(RecordError) as info:
        turns_from_messages(messages, field="messages")
    assert info.value.field == field


def test_usage_tokens_for_both_spellings() -> None:
    assert usage_tokens(
        {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "completion_tokens_details": {"reasoning_tokens": 3},
        }
    ) == (5, 7, 3)
    assert usage_tokens(
        {"input_tokens": 1, "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}}
    ) == (1, 2, 0)
    assert usage_tokens({"prompt_tokens": "5"}) == (None, None, None)
    assert usage_tokens(None) == (None, None, None)


def test_parse_time_accepts_unix_and_iso_and_ignores_junk() -> None:
    assert parse_time(1745330951) is not None
    assert parse_time(1745330951000) == parse_time(1745330951)
    assert parse_time("2025-01-02T03:04:05Z") is not None
    assert parse_time("yesterday") is None
    assert parse_time(1e300) is None
    assert parse_time(True) is None


def test_other_provider_shapes() -> None:
    turns = turns_from_messages(
        [
            # Assistants API text parts carry {value, annotations}.
            {
                "role": "user",
                "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
            },
            # OpenRouter reasoning_details.
            {
                "role": "assistant",
                "content": "ok",
                "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "sum"},
                    {"type": "reasoning.text", "text": "raw", "signature": "s"},
                    {"type": "reasoning.encrypted", "data": "abcd"},
                ],
            },
            # Inspect: reasoning parts, tool calls with a function name string, tool messages.
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "hidden", "redacted": True},
                    {"type": "text", "text": "calling"},
                ],
                "tool_calls": [{"id": "t1", "function": "bash", "arguments": {"cmd": "ls"}}],
            },
            {"role": "tool", "tool_call_id": "t1", "function": "bash", "content": "a.txt"},
        ],
        field="messages",
    )
    assert [t.role for t in turns] == [Role.USER, Role.ASSISTANT, Role.ASSISTANT, Role.TOOL]
    assert turns[0].blocks[0].text == "hi"
    summary, raw, encrypted, answer = turns[1].blocks
    assert (summary.kind, summary.summary, raw.signature) == (BlockKind.REASONING, True, "s")
    assert (encrypted.kind, encrypted.opaque_chars, answer.text) == (
        BlockKind.REDACTED_REASONING,
        4,
        "ok",
    )
    assert kinds(turns[2]) == ["redacted_reasoning", "text", "tool_call"]
    assert turns[2].blocks[2].tool_name == "bash"
    assert turns[3].blocks[0].tool_name == "bash"
