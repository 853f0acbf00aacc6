"""A trace survives the row codec exactly; content ids are stable."""

from __future__ import annotations

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn, content_uid
from annotator.store.codec import decode_trace, encode_original, encode_turns, search_text_of


def sample() -> Trace:
    return Trace(
        uid="t1",
        meta=TraceMeta(source_format="test", model="m"),
        original={"b": 1, "a": [1, 2]},
        turns=(
            Turn(role=Role.SYSTEM, blocks=(Block(kind=BlockKind.TEXT, text="Be brief."),)),
            Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="What is 2+2?"),)),
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text="add", truncated=True, signature="sig"),
                    Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=120),
                    Block(
                        kind=BlockKind.TOOL_CALL,
                        text='{"x": 1}',
                        tool_name="calc",
                        tool_call_id="c1",
                    ),
                ),
            ),
            Turn(
                role=Role.TOOL,
                name="calc",
                blocks=(Block(kind=BlockKind.TOOL_RESULT, text="4", tool_call_id="c1"),),
            ),
        ),
    )


def test_round_trip() -> None:
    trace = sample()
    encoded = encode_turns(trace.turns)
    back = decode_trace(trace.uid, trace.meta, encoded, encode_original(trace.original))
    assert back == trace
    assert search_text_of(encoded) == trace.search_text()


def test_properties() -> None:
    trace = sample()
    assert trace.prompt == "What is 2+2?"
    assert trace.reasoning_chars == 3
    assert trace.truncated_count == 1
    assert trace.preview(5) == "What…"


def test_raw_original_kept_verbatim() -> None:
    raw = b'{"b":1,  "a":[1,2]}'
    assert encode_original({"a": [1, 2], "b": 1}, raw) is raw


def test_content_uid_ignores_key_order() -> None:
    assert content_uid({"a": 1, "b": [1, 2]}) == content_uid({"b": [1, 2], "a": 1})
    assert content_uid({"a": 1}) != content_uid({"a": 2})
