"""The views as pure functions: exported text and span offsets, chat messages, classifier."""

from __future__ import annotations

from typing import Any

from annotator.formats.writers.rows import ExportRow, Resolution
from annotator.formats.writers.views import (
    arrow_record,
    chat_record,
    classifier_record,
    exported_text,
    full_record,
    spans_record,
)

TURNS: list[dict[str, Any]] = [
    {"role": "system", "blocks": [{"kind": "text", "text": "Be brief."}]},
    {"role": "user", "blocks": [{"kind": "text", "text": "Solve 2+2 and show work."}]},
    {
        "role": "assistant",
        "blocks": [
            {"kind": "reasoning", "text": "Two plus two. Carry nothing."},
            {"kind": "tool_call", "text": '{"x": 2}', "tool_name": "calc"},
            {"kind": "redacted_reasoning", "opaque_chars": 40},
            {"kind": "text", "text": "It is 4."},
        ],
    },
    {"role": "tool", "blocks": [{"kind": "tool_result", "text": "4"}]},
]


def row(spans: tuple[dict[str, Any], ...] = (), verdict: str | None = "legitimate") -> ExportRow:
    return ExportRow(
        uid="u1",
        turns=TURNS,
        meta={"source_format": "x", "model": "m", "extra": {"a": [1, 2]}},
        is_gold=False,
        labels=(),
        adjudications=(),
        resolution=Resolution(
            method="unanimous" if verdict else "none",
            verdict=verdict,
            tags=("T",),
            spans=spans,
            votes=(("legitimate", 2),),
        ),
    )


def span(turn: int, block: int, start: int, end: int, who: str = "ann") -> dict[str, Any]:
    return {"turn": turn, "block": block, "start": start, "end": end, "text": "", "labeler": who}


def test_exported_text_layout() -> None:
    text, starts = exported_text(TURNS)
    assert text.startswith("[system]\nBe brief.\n\n[user]\nSolve 2+2")
    assert "[assistant reasoning]\nTwo plus two." in text
    assert '[assistant tool_call calc]\n{"x": 2}' in text
    assert "[assistant redacted_reasoning]\n\n\n[assistant]\nIt is 4." in text
    for (t, b), start in starts.items():
        block_text = TURNS[t]["blocks"][b].get("text", "")
        assert text[start : start + len(block_text)] == block_text


def test_span_offsets_point_at_the_passage() -> None:
    spans = (
        span(2, 0, 0, 13),  # "Two plus two."
        span(1, 0, 6, 9),  # "2+2"
        span(2, 3, 6, 8),  # "4."
        span(2, 0, 14, 999),  # runs past the block: cut to its end
        span(2, 3, 50, 60),  # starts beyond the block: dropped
        span(9, 0, 0, 1),  # no such turn: dropped
    )
    record = spans_record(row(spans))
    text = record["text"]
    passages = [(s["start"], s["end"], s["text"]) for s in record["spans"]]
    assert [p[2] for p in passages] == ["2+2", "Two plus two.", "Carry nothing.", "4."]
    for start, end, passage in passages:
        assert text[start:end] == passage
    assert record["label"] == "legitimate"


def test_classifier_fields() -> None:
    rec = classifier_record(row())
    assert rec["prompt"] == "Solve 2+2 and show work."
    assert rec["reasoning"] == "Two plus two. Carry nothing."
    assert rec["response"] == "It is 4."
    assert rec["text"] == exported_text(TURNS)[0]
    assert (rec["label"], rec["tags"], rec["resolution"]) == ("legitimate", ["T"], "unanimous")


def test_chat_messages_are_trl_shaped() -> None:
    rec = chat_record(row())
    roles = [m["role"] for m in rec["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assistant = rec["messages"][2]["content"]
    assert assistant.startswith("<think>\nTwo plus two. Carry nothing.\n</think>")
    assert '<tool_call>\n{"name":"calc","arguments":"{\\"x\\": 2}"}\n</tool_call>' in assistant
    assert assistant.endswith("It is 4.")
    assert rec["messages"][3]["content"] == "4"
    assert all(set(m) == {"role", "content"} for m in rec["messages"])


def test_full_record_and_its_columnar_form() -> None:
    rec = full_record(row())
    assert rec["annotator_export"] == 1
    assert "original" not in rec
    assert rec["agreement"]["votes"] == {"legitimate": 2}
    flat = arrow_record(rec)
    assert flat["meta"]["extra"] == '{"a":[1,2]}'
    assert flat["agreement"]["votes"] == '{"legitimate":2}'
    redacted = flat["turns"][2]["blocks"][2]
    assert (
        redacted["opaque_chars"] == 40 and redacted["text"] == "" and redacted["truncated"] is False
    )


def test_stored_turns_are_embedded_as_they_are() -> None:
    import orjson

    from annotator.formats.writers.jsonl import dumps_line

    stored = orjson.dumps(TURNS)
    r = row()
    r.turns = []
    r.turns_json = stored
    rec = full_record(r)
    line = dumps_line(rec)
    assert b'"turns":' + stored + b"," in line
    assert orjson.loads(line)["turns"] == TURNS
    flat = arrow_record(rec)
    assert [t["role"] for t in flat["turns"]] == ["system", "user", "assistant", "tool"]
    assert flat["turns"][2]["blocks"][1]["tool_name"] == "calc"
