"""The normalised trace: every source format becomes this shape.

A trace is an ordered list of turns (system, user, assistant, tool), each made of typed blocks.
The source record is kept verbatim in ``original`` so nothing is lost and exports round-trip.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class BlockKind(StrEnum):
    TEXT = "text"
    REASONING = "reasoning"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    REDACTED_REASONING = "redacted_reasoning"


class Block(BaseModel):
    """One typed piece of a turn.

    ``text`` is what a labeler reads: the prose, the reasoning, the tool call's arguments (JSON
    text) or the tool result. Redacted or encrypted reasoning has empty ``text`` and the size of
    the opaque payload in ``opaque_chars``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: BlockKind
    text: str = ""
    truncated: bool = False
    """Reasoning cut off without its closing tag (e.g. the model hit max tokens)."""
    summary: bool = False
    """Reasoning shown as a provider summary rather than the raw chain of thought."""
    tool_name: str | None = None
    tool_call_id: str | None = None
    signature: str | None = None
    opaque_chars: int = 0


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    blocks: tuple[Block, ...] = ()
    name: str | None = None

    def text_of(self, *kinds: BlockKind) -> str:
        return "\n\n".join(b.text for b in self.blocks if not kinds or b.kind in kinds)


class TraceMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source_format: str
    model: str | None = None
    account_id: str | None = None
    session_id: str | None = None
    created_at: datetime | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    source_file: str | None = None
    source_line: int | None = None
    """1-based line (JSONL) or record index (JSON arrays, Parquet rows) in ``source_file``."""
    extra: dict[str, Any] = Field(default_factory=dict)


class Trace(BaseModel):
    """One conversation as the labeler sees it.

    ``uid`` is stable across re-imports: the record's own id where it has one, else a content hash
    (see :func:`content_uid`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: str
    turns: tuple[Turn, ...]
    meta: TraceMeta
    original: Any = None

    def blocks(self) -> list[tuple[int, int, Block]]:
        """(turn index, block index, block) for every block, in reading order."""
        return [
            (t, b, block)
            for t, turn in enumerate(self.turns)
            for b, block in enumerate(turn.blocks)
        ]

    @property
    def prompt(self) -> str:
        """The first user text: what near-duplicate clustering and previews look at."""
        for turn in self.turns:
            if turn.role is Role.USER:
                text = turn.text_of(BlockKind.TEXT)
                if text:
                    return text
        return ""

    @property
    def reasoning_chars(self) -> int:
        return sum(len(b.text) for _, _, b in self.blocks() if b.kind is BlockKind.REASONING)

    @property
    def truncated_count(self) -> int:
        return sum(1 for _, _, b in self.blocks() if b.truncated)

    def search_text(self) -> str:
        """All readable text, for the full-text index."""
        return "\n".join(b.text for _, _, b in self.blocks() if b.text)

    def preview(self, width: int = 160) -> str:
        text = " ".join(self.prompt.split())
        return text[: width - 1] + "…" if len(text) > width else text


def content_uid(record: Any) -> str:
    """A stable id for a record that has none: sha256 of its canonical JSON (sorted keys)."""
    data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]
