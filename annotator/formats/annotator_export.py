"""Reads this app's own ``full`` JSONL export back, labels included.

Every ``full`` record carries the marker key ``"annotator_export": 1``; that key alone decides
detection, so the reader is registered first. The trace comes back as it was exported (same uid,
turns, metadata and original record) and the labels and adjudications ride in
``meta.extra["annotator_labels"]`` / ``["annotator_adjudications"]``, which the importer turns
into label rows. This is how a workstation's work is merged into the lead's database.

The columnar exports (Parquet, the Hugging Face folder) carry the same record with its free-form
parts as JSON text, because an Arrow struct needs fixed keys: ``meta.extra``, ``original`` and
``agreement.votes`` are strings there (their schema fields say ``json: 1``). A ``meta.extra``
that is a string marks that form; the reader then decodes ``meta.extra`` and ``original``, so a
Parquet export imports exactly as the JSONL one does.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.writers.rows import EXPORT_MARKER, EXPORT_VERSION

LABELS_KEY = "annotator_labels"
ADJUDICATIONS_KEY = "annotator_adjudications"
LABEL_FIELDS = (
    "annotator",
    "status",
    "verdict",
    "label",
    "seconds_spent",
    "comment",
    "schema_version",
    "created_at",
    "submitted_at",
)
ADJUDICATION_FIELDS = ("lead", "verdict", "label", "note", "created_at")


def _turns(value: Any) -> tuple[Turn, ...]:
    if not isinstance(value, list):
        raise RecordError("expected a list of turns", field="turns")
    turns = []
    for i, t in enumerate(value):
        if not isinstance(t, dict) or not isinstance(t.get("blocks", []), list):
            raise RecordError("expected a turn object with a list of blocks", field=f"turns[{i}]")
        blocks = []
        for j, b in enumerate(t.get("blocks", [])):
            if not isinstance(b, dict):
                raise RecordError("expected a block object", field=f"turns[{i}].blocks[{j}]")
            try:
                blocks.append(Block(**{**b, "kind": BlockKind(b.get("kind", "text"))}))
            except (ValueError, TypeError) as exc:
                raise RecordError(
                    f"bad block: {exc}".splitlines()[0], field=f"turns[{i}].blocks[{j}]"
                ) from None
        try:
            turns.append(
                Turn(role=Role(str(t.get("role"))), name=t.get("name"), blocks=tuple(blocks))
            )
        except ValueError as exc:
            raise RecordError(f"bad turn: {exc}".splitlines()[0], field=f"turns[{i}]") from None
    return tuple(turns)


def _json_field(text: str, field: str) -> Any:
    """A value the columnar layout stores as JSON text (see the module docstring)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"expected JSON text: {exc}".splitlines()[0], field=field) from None


def _entries(value: Any, keys: tuple[str, ...], field: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise RecordError("expected a list of objects", field=field)
    return [{k: e.get(k) for k in keys if k in e} for e in value]


class AnnotatorExportReader:
    name = "annotator_export"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and EXPORT_MARKER in data

    def read(self, record: SourceRecord) -> list[Trace]:
        data = record.data
        if not isinstance(data, dict):
            raise RecordError("expected an object", field="record")
        version = data.get(EXPORT_MARKER)
        if version != EXPORT_VERSION:
            raise RecordError(
                f"unsupported export layout version {version!r} (this app reads {EXPORT_VERSION})",
                field=EXPORT_MARKER,
            )
        uid = data.get("uid")
        if not isinstance(uid, str) or not uid:
            raise RecordError("a non-empty uid is required", field="uid")
        meta = data.get("meta")
        if not isinstance(meta, dict):
            raise RecordError("expected an object", field="meta")
        extra = meta.get("extra") or {}
        original = data.get("original")
        if isinstance(extra, str):  # the columnar layout: JSON text
            extra = _json_field(extra, "meta.extra")
            if isinstance(original, str):
                original = _json_field(original, "original")
        if not isinstance(extra, dict):
            raise RecordError("expected an object", field="meta.extra")
        extra = {k: v for k, v in extra.items() if k not in (LABELS_KEY, ADJUDICATIONS_KEY)}
        labels = _entries(data.get("labels"), LABEL_FIELDS, "labels")
        adjudications = _entries(data.get("adjudications"), ADJUDICATION_FIELDS, "adjudications")
        if labels:
            extra[LABELS_KEY] = labels
        if adjudications:
            extra[ADJUDICATIONS_KEY] = adjudications
        try:
            trace_meta = TraceMeta(**{**meta, "extra": extra})
        except (ValidationError, TypeError) as exc:
            raise RecordError(f"bad metadata: {exc}".splitlines()[0], field="meta") from None
        return [
            Trace(
                uid=uid,
                turns=_turns(data.get("turns")),
                meta=trace_meta,
                original=original,
            )
        ]


READER = AnnotatorExportReader()
