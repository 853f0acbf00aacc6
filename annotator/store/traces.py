"""Reading traces back as domain objects."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.domain.trace import Trace, TraceMeta
from annotator.store.codec import decode_trace
from annotator.store.models import TraceRow


class TraceNotFound(LookupError):
    pass


def meta_of(row: TraceRow) -> TraceMeta:
    return TraceMeta(
        source_format=row.source_format,
        model=row.model,
        account_id=row.account_id,
        session_id=row.session_id,
        created_at=row.created_at,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        reasoning_tokens=row.reasoning_tokens,
        source_file=row.source_file,
        source_line=row.source_line,
        extra=orjson.loads(row.meta_extra or "{}"),
    )


def trace_of(row: TraceRow) -> Trace:
    return decode_trace(row.uid, meta_of(row), row.turns_json, row.original)


def load_trace(session: Session, trace_id: int) -> Trace:
    row = session.get(TraceRow, trace_id)
    if row is None:
        raise TraceNotFound(f"no trace with id {trace_id}")
    return trace_of(row)


def trace_id_for_uid(session: Session, project_id: int, uid: str) -> int | None:
    return session.scalar(
        select(TraceRow.id).where(TraceRow.project_id == project_id, TraceRow.uid == uid)
    )
