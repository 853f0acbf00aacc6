"""The four shapes an export can take, as pure functions from an :class:`ExportRow` to a record.

- ``full``: everything (the normalised trace, optionally the original record, every label, every
  adjudication, the resolved label, agreement figures). ``annotator import`` reads it back.
- ``classifier``: text fields and the label, for training a detector.
- ``chat``: TRL ``messages`` plus the label, for fine-tuning a judge model.
- ``spans``: the exported text and evidence passages with offsets into it.

Every view also has a pyarrow schema, so Parquet, the Hugging Face folder and CSV share one typed
shape. Records hold datetimes (aware UTC) and plain JSON values (the full view's turns may be a
:class:`RawJson` of the stored bytes); :func:`arrow_record` turns the free-form parts (the
original record, ``meta.extra``, vote counts) into JSON text for columnar formats.

**The exported text** (``classifier.text``, ``spans.text``) is every block in reading order, each
as a header line ``[role]`` (``[role kind]`` for non-text blocks, ``[role tool_call name]`` for a
tool call) followed by a newline and the block's text; blocks are separated by one blank line
(``"\\n\\n"``). An evidence span on block ``(turn, block)`` at ``[start, end)`` lands at
``[offset + start, offset + end)`` where ``offset`` is where that block's text begins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from annotator.formats.writers.rows import EXPORT_MARKER, EXPORT_VERSION, ExportRow, RawJson

VIEW_NAMES = ("full", "classifier", "chat", "spans")

BLOCK_DEFAULTS: dict[str, Any] = {
    "text": "",
    "truncated": False,
    "summary": False,
    "tool_name": None,
    "tool_call_id": None,
    "signature": None,
    "opaque_chars": 0,
}


# --- exported text ---------------------------------------------------------------------------


def _header(role: str, block: dict[str, Any]) -> str:
    kind = block.get("kind", "text")
    if kind == "text":
        return f"[{role}]"
    if kind == "tool_call" and block.get("tool_name"):
        return f"[{role} tool_call {block['tool_name']}]"
    return f"[{role} {kind}]"


def exported_text(turns: list[dict[str, Any]]) -> tuple[str, dict[tuple[int, int], int]]:
    """The text of a trace as the classifier and spans views export it, and where each block's
    text starts in it (keyed by (turn index, block index))."""
    parts: list[str] = []
    starts: dict[tuple[int, int], int] = {}
    pos = 0
    for t, turn in enumerate(turns):
        role = turn.get("role", "")
        for b, block in enumerate(turn.get("blocks", ())):
            if parts:
                parts.append("\n\n")
                pos += 2
            head = _header(role, block) + "\n"
            parts.append(head)
            pos += len(head)
            starts[(t, b)] = pos
            text = block.get("text", "")
            parts.append(text)
            pos += len(text)
    return "".join(parts), starts


def _block_text(turns: list[dict[str, Any]], t: int, b: int) -> str | None:
    if not 0 <= t < len(turns):
        return None
    blocks = turns[t].get("blocks", ())
    if not 0 <= b < len(blocks):
        return None
    text: str = blocks[b].get("text", "")
    return text


def _texts(turns: list[dict[str, Any]], role: str, kind: str) -> list[str]:
    return [
        b.get("text", "")
        for turn in turns
        if turn.get("role") == role
        for b in turn.get("blocks", ())
        if b.get("kind", "text") == kind and b.get("text")
    ]


def prompt_of(turns: list[dict[str, Any]]) -> str:
    """The first user turn's text (as ``Trace.prompt``)."""
    for turn in turns:
        if turn.get("role") == "user":
            text = "\n\n".join(
                b.get("text", "") for b in turn.get("blocks", ()) if b.get("kind", "text") == "text"
            )
            if text:
                return text
    return ""


def response_of(turns: list[dict[str, Any]]) -> str:
    """The last assistant turn's visible text."""
    for turn in reversed(turns):
        if turn.get("role") == "assistant":
            text = "\n\n".join(
                b.get("text", "") for b in turn.get("blocks", ()) if b.get("kind", "text") == "text"
            )
            if text:
                return text
    return ""


# --- views -----------------------------------------------------------------------------------


def full_record(row: ExportRow) -> dict[str, Any]:
    """Everything; ``annotator import`` reads it back (see annotator.formats.annotator_export)."""
    res = row.resolution
    record: dict[str, Any] = {
        EXPORT_MARKER: EXPORT_VERSION,
        "uid": row.uid,
        "turns": RawJson(row.turns_json) if row.turns_json is not None else row.turns,
        "meta": row.meta,
        "is_gold": row.is_gold,
        "labels": [
            {
                "annotator": e.annotator,
                "status": e.status,
                "verdict": e.verdict,
                "label": e.label,
                "seconds_spent": e.seconds_spent,
                "comment": e.comment,
                "schema_version": e.schema_version,
                "created_at": e.created_at,
                "submitted_at": e.submitted_at,
            }
            for e in row.labels
        ],
        "adjudications": [
            {
                "lead": a.lead,
                "verdict": a.verdict,
                "label": a.label,
                "note": a.note,
                "created_at": a.created_at,
            }
            for a in row.adjudications
        ],
        "resolved": {
            "verdict": res.verdict,
            "method": res.method,
            "tags": list(res.tags),
            "counter_tags": list(res.counter_tags),
            "confidence": res.confidence,
            "spans": list(res.spans),
            "tied": list(res.tied),
        },
        "agreement": {
            "n_labelers": res.n_labelers,
            "votes": dict(res.votes),
            "share": res.agreement,
            "pairwise": res.pairwise,
        },
    }
    if row.has_original:
        record["original"] = row.original
    return record


def classifier_record(row: ExportRow) -> dict[str, Any]:
    res = row.resolution
    text, _ = exported_text(row.turns)
    return {
        "uid": row.uid,
        "text": text,
        "prompt": prompt_of(row.turns),
        "reasoning": "\n\n".join(_texts(row.turns, "assistant", "reasoning")),
        "response": response_of(row.turns),
        "label": res.verdict,
        "confidence": res.confidence,
        "tags": list(res.tags),
        "counter_tags": list(res.counter_tags),
        "resolution": res.method,
        "agreement": res.agreement,
        "n_labelers": res.n_labelers,
        "model": row.meta.get("model"),
        "source_format": row.meta.get("source_format"),
    }


def _message_content(role: str, blocks: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    thinking = [b.get("text", "") for b in blocks if b.get("kind") == "reasoning" and b.get("text")]
    if thinking and role == "assistant":
        parts.append("<think>\n" + "\n\n".join(thinking) + "\n</think>")
    for block in blocks:
        kind = block.get("kind", "text")
        text = block.get("text", "")
        if kind in ("text", "tool_result") and text:
            parts.append(text)
        elif kind == "tool_call":
            call = {"name": block.get("tool_name"), "arguments": text}
            parts.append("<tool_call>\n" + orjson.dumps(call).decode() + "\n</tool_call>")
    return "\n\n".join(parts)


def chat_messages(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """TRL conversational ``messages``: assistant reasoning as a leading ``<think>`` section, tool
    calls as ``<tool_call>`` JSON, tool results as ``tool`` messages."""
    messages = []
    for turn in turns:
        role = turn.get("role", "user")
        blocks = list(turn.get("blocks", ()))
        messages.append({"role": role, "content": _message_content(role, blocks)})
    return messages


def chat_record(row: ExportRow) -> dict[str, Any]:
    res = row.resolution
    return {
        "uid": row.uid,
        "messages": chat_messages(row.turns),
        "label": res.verdict,
        "confidence": res.confidence,
        "tags": list(res.tags),
        "counter_tags": list(res.counter_tags),
    }


def spans_record(row: ExportRow) -> dict[str, Any]:
    """Evidence spans of the resolved label, re-based onto the exported text. A span that no
    longer fits its block (the block is shorter) is cut to the block's end; one that starts
    beyond it is dropped."""
    res = row.resolution
    text, starts = exported_text(row.turns)
    spans = []
    for span in res.spans:
        t, b = int(span.get("turn", -1)), int(span.get("block", -1))
        block_text = _block_text(row.turns, t, b)
        if block_text is None:
            continue
        start, end = int(span.get("start", 0)), min(int(span.get("end", 0)), len(block_text))
        if start >= end:
            continue
        offset = starts[(t, b)]
        spans.append(
            {
                "start": offset + start,
                "end": offset + end,
                "text": block_text[start:end],
                "turn": t,
                "block": b,
                "labeler": span.get("labeler"),
            }
        )
    spans.sort(key=lambda s: (s["start"], s["end"], s["labeler"] or ""))
    return {
        "uid": row.uid,
        "text": text,
        "label": res.verdict,
        "tags": list(res.tags),
        "spans": spans,
    }


# --- arrow schemas ---------------------------------------------------------------------------

TS = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())
JSON_META = {b"json": b"1"}

_BLOCK = pa.struct(
    [
        pa.field("kind", pa.string()),
        pa.field("text", pa.string()),
        pa.field("truncated", pa.bool_()),
        pa.field("summary", pa.bool_()),
        pa.field("tool_name", pa.string()),
        pa.field("tool_call_id", pa.string()),
        pa.field("signature", pa.string()),
        pa.field("opaque_chars", pa.int64()),
    ]
)
_TURN = pa.struct(
    [
        pa.field("role", pa.string()),
        pa.field("name", pa.string()),
        pa.field("blocks", pa.list_(_BLOCK)),
    ]
)
_LABEL_SPAN = pa.struct(
    [
        pa.field("turn", pa.int64()),
        pa.field("block", pa.int64()),
        pa.field("start", pa.int64()),
        pa.field("end", pa.int64()),
        pa.field("text", pa.string()),
    ]
)
_RESOLVED_SPAN = pa.struct([*_LABEL_SPAN, pa.field("labeler", pa.string())])
_LABEL = pa.struct(
    [
        pa.field("verdict", pa.string()),
        pa.field("tags", STRINGS),
        pa.field("counter_tags", STRINGS),
        pa.field("confidence", pa.int64()),
        pa.field("rationale", pa.string()),
        pa.field("spans", pa.list_(_LABEL_SPAN)),
    ]
)
_META = pa.struct(
    [
        pa.field("source_format", pa.string()),
        pa.field("model", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("created_at", TS),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("reasoning_tokens", pa.int64()),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int64()),
        pa.field("extra", pa.string(), metadata=JSON_META),
    ]
)

FULL_SCHEMA = pa.schema(
    [
        pa.field(EXPORT_MARKER, pa.int64()),
        pa.field("uid", pa.string()),
        pa.field("turns", pa.list_(_TURN)),
        pa.field("meta", _META),
        pa.field("is_gold", pa.bool_()),
        pa.field(
            "labels",
            pa.list_(
                pa.struct(
                    [
                        pa.field("annotator", pa.string()),
                        pa.field("status", pa.string()),
                        pa.field("verdict", pa.string()),
                        pa.field("label", _LABEL),
                        pa.field("seconds_spent", pa.float64()),
                        pa.field("comment", pa.string()),
                        pa.field("schema_version", pa.int64()),
                        pa.field("created_at", TS),
                        pa.field("submitted_at", TS),
                    ]
                )
            ),
        ),
        pa.field(
            "adjudications",
            pa.list_(
                pa.struct(
                    [
                        pa.field("lead", pa.string()),
                        pa.field("verdict", pa.string()),
                        pa.field("label", _LABEL),
                        pa.field("note", pa.string()),
                        pa.field("created_at", TS),
                    ]
                )
            ),
        ),
        pa.field(
            "resolved",
            pa.struct(
                [
                    pa.field("verdict", pa.string()),
                    pa.field("method", pa.string()),
                    pa.field("tags", STRINGS),
                    pa.field("counter_tags", STRINGS),
                    pa.field("confidence", pa.int64()),
                    pa.field("spans", pa.list_(_RESOLVED_SPAN)),
                    pa.field("tied", STRINGS),
                ]
            ),
        ),
        pa.field(
            "agreement",
            pa.struct(
                [
                    pa.field("n_labelers", pa.int64()),
                    pa.field("votes", pa.string(), metadata=JSON_META),
                    pa.field("share", pa.float64()),
                    pa.field("pairwise", pa.float64()),
                ]
            ),
        ),
    ]
)
ORIGINAL_FIELD = pa.field("original", pa.string(), metadata=JSON_META)

CLASSIFIER_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field("text", pa.string()),
        pa.field("prompt", pa.string()),
        pa.field("reasoning", pa.string()),
        pa.field("response", pa.string()),
        pa.field("label", pa.string()),
        pa.field("confidence", pa.int64()),
        pa.field("tags", STRINGS),
        pa.field("counter_tags", STRINGS),
        pa.field("resolution", pa.string()),
        pa.field("agreement", pa.float64()),
        pa.field("n_labelers", pa.int64()),
        pa.field("model", pa.string()),
        pa.field("source_format", pa.string()),
    ]
)
CHAT_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field(
            "messages",
            pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])),
        ),
        pa.field("label", pa.string()),
        pa.field("confidence", pa.int64()),
        pa.field("tags", STRINGS),
        pa.field("counter_tags", STRINGS),
    ]
)
SPANS_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field("text", pa.string()),
        pa.field("label", pa.string()),
        pa.field("tags", STRINGS),
        pa.field(
            "spans",
            pa.list_(
                pa.struct(
                    [
                        pa.field("start", pa.int64()),
                        pa.field("end", pa.int64()),
                        pa.field("text", pa.string()),
                        pa.field("turn", pa.int64()),
                        pa.field("block", pa.int64()),
                        pa.field("labeler", pa.string()),
                    ]
                )
            ),
        ),
    ]
)


@dataclass(frozen=True)
class View:
    name: str
    build: Callable[[ExportRow], dict[str, Any]]
    base_schema: pa.Schema

    def schema(self, *, include_original: bool = False) -> pa.Schema:
        if self.name == "full" and include_original:
            return self.base_schema.append(ORIGINAL_FIELD)
        return self.base_schema


VIEWS: dict[str, View] = {
    "full": View("full", full_record, FULL_SCHEMA),
    "classifier": View("classifier", classifier_record, CLASSIFIER_SCHEMA),
    "chat": View("chat", chat_record, CHAT_SCHEMA),
    "spans": View("spans", spans_record, SPANS_SCHEMA),
}


def get_view(name: str) -> View:
    try:
        return VIEWS[name]
    except KeyError:
        raise ValueError(f"unknown view {name!r}; known views: {', '.join(VIEW_NAMES)}") from None


# --- columnar form ---------------------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _full_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "role": t.get("role"),
            "name": t.get("name"),
            "blocks": [{**BLOCK_DEFAULTS, **b} for b in t.get("blocks", ())],
        }
        for t in turns
    ]


_SPAN_INTS = ("turn", "block", "start", "end")


def _is_int(value: Any) -> bool:
    return value is None or (type(value) is int and -(2**63) <= value < 2**63)


def _is_str(value: Any) -> bool:
    return value is None or type(value) is str


def _strings(value: Any) -> bool:
    return value is None or (type(value) is list and all(type(v) is str for v in value))


def label_fits(label: Any) -> bool:
    """Whether a label object converts to the label struct as it is. pyarrow would refuse a
    stored label that no longer validates (a span that is not an object) or, worse, turn
    ``"tags": "oops"`` into four one-letter tags."""
    if label is None:
        return True
    if type(label) is not dict:
        return False
    get = label.get
    if not (_is_int(get("confidence")) and _strings(get("tags"))):
        return False
    if not (_strings(get("counter_tags")) and _is_str(get("verdict"))):
        return False
    if not _is_str(get("rationale")):
        return False
    spans = get("spans")
    if spans is None:
        return True
    return type(spans) is list and all(
        type(span) is dict
        and all(_is_int(span.get(k)) for k in _SPAN_INTS)
        and _is_str(span.get("text"))
        for span in spans
    )


def _typed_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labels or adjudications with a label object that does not fit the struct set to null
    (the entry's verdict, status and who still say what it was; JSONL and CSV keep it)."""
    if all(label_fits(e.get("label")) for e in entries):
        return entries
    return [e if label_fits(e.get("label")) else {**e, "label": None} for e in entries]


def arrow_record(
    record: dict[str, Any], *, expand_turns: bool = True, typed_labels: bool = True
) -> dict[str, Any]:
    """A view record in the shape its arrow schema wants: free-form JSON parts (the original
    record, ``meta.extra``, vote counts) as JSON text, every block field present. Without
    ``expand_turns`` stored turns stay :class:`RawJson` (CSV writes them as one JSON cell).
    With ``typed_labels`` (Parquet) a label object that does not fit the label struct is null,
    see :func:`label_fits`; CSV writes label objects as JSON text, so it keeps them."""
    if EXPORT_MARKER not in record:
        return record
    out = dict(record)
    turns = record["turns"]
    if isinstance(turns, RawJson):
        out["turns"] = _full_turns(orjson.loads(turns.data)) if expand_turns else turns
    else:
        out["turns"] = _full_turns(turns)
    out["meta"] = {**record["meta"], "extra": _json_text(record["meta"].get("extra") or {})}
    out["agreement"] = {**record["agreement"], "votes": _json_text(record["agreement"]["votes"])}
    if typed_labels:
        out["labels"] = _typed_entries(record["labels"])
        out["adjudications"] = _typed_entries(record["adjudications"])
    if "original" in record:
        out["original"] = _json_text(record["original"])
    return out
