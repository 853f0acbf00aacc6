"""Typed ORM. Labels are events: ``label_events`` is append-only; ``labels`` holds the current
state per (trace, annotator) so the queue can show status without replaying history."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    schema_json: Mapped[str] = mapped_column(Text)
    guidelines_md: Mapped[str] = mapped_column(Text, default="")
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotator(Base):
    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), default="labeler")
    """``labeler`` or ``lead``."""


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    file_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    format: Mapped[str | None] = mapped_column(String(50))
    imported_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="running")
    """``running``, ``done``, ``failed`` or ``cancelled``."""
    n_records: Mapped[int] = mapped_column(Integer, default=0)
    n_imported: Mapped[int] = mapped_column(Integer, default=0)
    n_duplicates: Mapped[int] = mapped_column(Integer, default=0)
    n_rejected: Mapped[int] = mapped_column(Integer, default=0)
    reject_file: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TraceRow(Base):
    """One normalised trace. ``turns_json`` is the domain ``Trace.turns`` as JSON; ``original`` the
    source record verbatim (JSON text). Cheap columns (preview, counts) serve the queue."""

    __tablename__ = "traces"
    __table_args__ = (
        UniqueConstraint("project_id", "uid"),
        Index("ix_traces_project_account", "project_id", "account_id"),
        Index("ix_traces_project_session", "project_id", "session_id"),
        Index("ix_traces_project_created", "project_id", "created_at"),
        Index("ix_traces_project_model", "project_id", "model"),
        # Covers `annotator stats`: counts by format and model, reasoning and truncation, at
        # 1M traces in 0.4-0.8 s without touching the wide rows.
        Index(
            "ix_traces_project_stats",
            "project_id",
            "source_format",
            "model",
            "reasoning_chars",
            "truncated_count",
        ),
        # Counting gold items must not read the rows: is_gold sits behind the large columns,
        # which SQLite walks page by page (revision 0003).
        Index("ix_traces_project_gold", "project_id", "is_gold"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    source_format: Mapped[str] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    n_turns: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_chars: Mapped[int] = mapped_column(Integer, default=0)
    truncated_count: Mapped[int] = mapped_column(Integer, default=0)
    preview: Mapped[str] = mapped_column(Text, default="")
    source_file: Mapped[str | None] = mapped_column(Text)
    source_line: Mapped[int | None] = mapped_column(Integer)
    meta_extra: Mapped[str] = mapped_column(Text, default="{}")
    turns_json: Mapped[bytes] = mapped_column(LargeBinary)
    original: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    gold_json: Mapped[str | None] = mapped_column(Text)
    """The known answer (a Label as JSON) for a gold item; never shown to labelers."""
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("annotator_id", "trace_id"),
        Index("ix_assignments_queue", "annotator_id", "project_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    assigned_by: Mapped[str | None] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelRow(Base):
    """Current label (or draft) of one annotator on one trace; mirrors the latest event."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("trace_id", "annotator_id"),
        Index("ix_labels_annotator_status", "annotator_id", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    verdict: Mapped[str | None] = mapped_column(String(100), index=True)
    label_json: Mapped[str] = mapped_column(Text, default="{}")
    """The domain ``Label`` as JSON (tags, counter tags, confidence, rationale, spans)."""
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)
    comment: Mapped[str | None] = mapped_column(Text)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    with_suggestions: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelEvent(Base):
    """Append-only history: every submit, skip, flag and undo. Never updated or deleted."""

    __tablename__ = "label_events"
    __table_args__ = (
        Index("ix_label_events_trace", "trace_id", "annotator_id"),
        Index("ix_label_events_annotator", "annotator_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    """``submit``, ``skip``, ``flag``, ``undo`` or ``import``."""
    status: Mapped[str] = mapped_column(String(20))
    verdict: Mapped[str | None] = mapped_column(String(100))
    label_json: Mapped[str] = mapped_column(Text, default="{}")
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)
    comment: Mapped[str | None] = mapped_column(Text)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    with_suggestions: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class Adjudication(Base):
    """A lead's final label for a trace; append-only, the latest row is current."""

    __tablename__ = "adjudications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(100))
    label_json: Mapped[str] = mapped_column(Text, default="{}")
    accepted_label_id: Mapped[int | None] = mapped_column(
        ForeignKey("labels.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suggestion(Base):
    """A machine hint (heuristic detector) shown beside the labeler's judgment, never pre-filled."""

    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("trace_id", "detector"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    detector: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(100))
    tags_json: Mapped[str] = mapped_column(Text, default="[]")
    evidence_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppState(Base):
    """Small key/value facts about the database, e.g. on PostgreSQL how far the full-text index
    has caught up (key ``fts_indexed_upto``; SQLite keeps it with the index, in its own file)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
