"""ORM for detection assist (revision 0002): near-duplicate prompt clusters, each trace's place in
them, labels on whole groups, and group labels a lead applied to member traces.

A group label applied to a trace is kept in ``derived_labels``, never in ``labels`` or
``label_events``: it is not a person's judgment of that trace, so agreement, adjudication and
export (which read those tables) cannot mistake it for one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from annotator.store.models import Base, utcnow


class PromptCluster(Base):
    """Near-duplicate prompts (MinHash LSH on word shingles of the normalised first user text).

    ``template`` is the normalised prompt of the first member with the varying stretches shown as
    ``{1}``, ``{2}``...; ``slots_json`` lists each slot with sample values."""

    __tablename__ = "prompt_clusters"
    __table_args__ = (Index("ix_prompt_clusters_project_size", "project_id", "size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(Integer, default=0)
    n_accounts: Mapped[int] = mapped_column(Integer, default=0)
    n_sessions: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    template: Mapped[str] = mapped_column(Text, default="")
    slots_json: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TraceCluster(Base):
    """One trace's cluster and its MinHash signature (uint32 little-endian, ``num_perm`` values).

    ``in_index``: the signature is one of the (at most a few dozen per cluster) that the LSH
    index is rebuilt from, so an incremental run never rehashes old prompts and a huge cluster
    does not make every query return thousands of candidates."""

    __tablename__ = "trace_clusters"
    __table_args__ = (Index("ix_trace_clusters_project_cluster", "project_id", "cluster_id"),)

    trace_id: Mapped[int] = mapped_column(
        ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("prompt_clusters.id", ondelete="CASCADE"), index=True
    )
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    in_index: Mapped[bool] = mapped_column(Boolean, default=True)


class GroupLabel(Base):
    """A label on a whole cluster, account or session; append-only (the latest row of an
    annotator for a group is that annotator's current group label)."""

    __tablename__ = "group_labels"
    __table_args__ = (Index("ix_group_labels_group", "project_id", "kind", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    """``cluster``, ``account`` or ``session``."""
    group_key: Mapped[str] = mapped_column(String(200))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(100))
    tags_json: Mapped[str] = mapped_column(Text, default="[]")
    counter_tags_json: Mapped[str] = mapped_column(Text, default="[]")
    confidence: Mapped[int | None] = mapped_column(Integer)
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DerivedLabel(Base):
    """A group label applied by a lead to one member trace that had no label of its own."""

    __tablename__ = "derived_labels"
    __table_args__ = (UniqueConstraint("trace_id", "group_label_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    trace_id: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"), index=True)
    group_label_id: Mapped[int] = mapped_column(
        ForeignKey("group_labels.id", ondelete="CASCADE"), index=True
    )
    applied_by: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(100))
    label_json: Mapped[str] = mapped_column(Text, default="{}")
    """A domain ``Label`` (verdict, tags, counter tags, confidence, rationale) as JSON."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
