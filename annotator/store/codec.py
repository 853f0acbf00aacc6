"""How a domain Trace is kept in a row: turns as JSON bytes, the original record verbatim.

One place encodes and decodes so that the writer (import), the readers (GUI, export) and the
full-text indexer agree on the bytes."""

from __future__ import annotations

from typing import Any

import orjson

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn

_BLOCK_DEFAULTS = {
    "truncated": False,
    "summary": False,
    "tool_name": None,
    "tool_call_id": None,
    "signature": None,
    "opaque_chars": 0,
    "text": "",
}


def _block_to_dict(block: Block) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": block.kind.value}
    for key, default in _BLOCK_DEFAULTS.items():
        value = getattr(block, key)
        if value != default:
            out[key] = value
    return out


def encode_turns(turns: tuple[Turn, ...]) -> bytes:
    """Compact JSON: default-valued block fields are left out."""
    return orjson.dumps(
        [
            {
                "role": t.role.value,
                "blocks": [_block_to_dict(b) for b in t.blocks],
                **({"name": t.name} if t.name else {}),
            }
            for t in turns
        ]
    )


def decode_turns(data: bytes) -> tuple[Turn, ...]:
    return tuple(
        Turn(
            role=Role(t["role"]),
            name=t.get("name"),
            blocks=tuple(Block(**{**b, "kind": BlockKind(b["kind"])}) for b in t["blocks"]),
        )
        for t in orjson.loads(data)
    )


def encode_original(original: Any, raw: bytes | None = None) -> bytes | None:
    """The source record verbatim: its own bytes where the reader kept them, else its JSON."""
    if raw is not None:
        return raw
    if original is None:
        return None
    return orjson.dumps(original, option=orjson.OPT_NON_STR_KEYS)


def decode_original(data: bytes | None) -> Any:
    return None if data is None else orjson.loads(data)


def turns_bytes(stored: bytes) -> bytes:
    """The turns JSON of a stored ``traces.turns_json`` value, for readers that want the bytes
    themselves (an export splicing them in, a light ``orjson.loads`` without pydantic). Readers
    go through here rather than using the column as JSON, so the stored form stays this module's
    business (zstd was measured and not adopted: on the shared 2-core machine it cost more CPU
    than the smaller writes saved)."""
    return stored


def original_bytes(stored: bytes | None) -> bytes | None:
    """The source record's bytes of a stored ``traces.original`` value (see :func:`turns_bytes`)."""
    return stored


def search_text_of(turns_json: bytes) -> str:
    """Readable text of an encoded trace, for the full-text index (no pydantic on this path)."""
    return "\n".join(
        b["text"] for t in orjson.loads(turns_json) for b in t["blocks"] if b.get("text")
    )


def decode_trace(uid: str, meta: TraceMeta, turns_json: bytes, original: bytes | None) -> Trace:
    return Trace(
        uid=uid, turns=decode_turns(turns_json), meta=meta, original=decode_original(original)
    )
