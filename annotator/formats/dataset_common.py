"""Helpers the dataset, agent and eval readers share: ids, metadata, plain turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn, content_uid
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.inline_tags import split_inline_reasoning
from annotator.formats.messages import account_and_session, first_time

ID_KEYS = ("id", "uuid", "conversation_id", "sample_id")
"""Keys that hold a record's own id in fine-tuning sets (``idx`` is a row number: not an id)."""


def own_id(data: Mapping[str, Any], keys: tuple[str, ...] = ID_KEYS) -> str | None:
    """The record's own id, if it has a non-empty string or integer one."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def record_uid(record: SourceRecord) -> str:
    """The record's own id, else a hash of its content (stable across re-imports)."""
    data = record.data
    found = own_id(data) if isinstance(data, Mapping) else None
    return found if found is not None else content_uid(data)


def make_meta(record: SourceRecord, source_format: str, **fields: Any) -> TraceMeta:
    """TraceMeta with the format name and where the record came from filled in.

    Account, session and time come from the keys logs commonly use (``user``, ``session_id``,
    ``created``, also under ``metadata``) unless the reader passed them: group patterns (one
    template across accounts, machine timing) must be visible whatever the format."""
    if isinstance(record.data, Mapping):
        if "account_id" not in fields or "session_id" not in fields:
            account, session = account_and_session(record.data)
            fields.setdefault("account_id", account)
            fields.setdefault("session_id", session)
        if "created_at" not in fields:
            fields["created_at"] = first_time(record.data, record.data.get("metadata"))
    return TraceMeta(
        source_format=source_format,
        source_file=record.source_file,
        source_line=record.line,
        **fields,
    )


def make_trace(
    record: SourceRecord, source_format: str, turns: list[Turn], *, uid: str, **fields: Any
) -> Trace:
    return Trace(
        uid=uid,
        turns=tuple(turns),
        meta=make_meta(record, source_format, **fields),
        original=record.data,
    )


def text_turn(role: Role, text: str, *, name: str | None = None) -> Turn:
    """A turn of plain text; assistant text is split on inline reasoning tags."""
    if role is Role.ASSISTANT:
        blocks = split_inline_reasoning(text)
    else:
        blocks = [Block(kind=BlockKind.TEXT, text=text)] if text else []
    return Turn(role=role, blocks=tuple(blocks), name=name)


def need_str(value: Any, *, field: str, optional: bool = False) -> str:
    """A string field (None reads as empty when ``optional``); RecordError otherwise."""
    if isinstance(value, str):
        return value
    if value is None and optional:
        return ""
    raise RecordError(f"expected a string, got {type(value).__name__}", field=field)


def need_list(value: Any, *, field: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise RecordError(f"expected a list, got {type(value).__name__}", field=field)


def need_dict(value: Any, *, field: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise RecordError(f"expected an object, got {type(value).__name__}", field=field)
