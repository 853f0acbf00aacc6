"""Detection assist: prompt clusters, each trace's cluster and MinHash signature, group labels and
the group labels a lead applied to member traces (annotator/store/detection_models.py).

Only new tables, so nothing here needs batch mode on SQLite; the same DDL runs on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prompt_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("n_accounts", sa.Integer(), nullable=False),
        sa.Column("n_sessions", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("slots_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_prompt_clusters_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_clusters")),
    )
    op.create_index(
        "ix_prompt_clusters_project_size", "prompt_clusters", ["project_id", "size"], unique=False
    )

    op.create_table(
        "trace_clusters",
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("in_index", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["prompt_clusters.id"],
            name=op.f("fk_trace_clusters_cluster_id_prompt_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_trace_clusters_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_trace_clusters_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_trace_clusters")),
    )
    op.create_index(
        op.f("ix_trace_clusters_cluster_id"), "trace_clusters", ["cluster_id"], unique=False
    )
    op.create_index(
        "ix_trace_clusters_project_cluster",
        "trace_clusters",
        ["project_id", "cluster_id"],
        unique=False,
    )

    op.create_table(
        "group_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=False),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("counter_tags_json", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_group_labels_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_group_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_labels")),
    )
    op.create_index(
        "ix_group_labels_group", "group_labels", ["project_id", "kind", "group_key"], unique=False
    )

    op.create_table(
        "derived_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("group_label_id", sa.Integer(), nullable=False),
        sa.Column("applied_by", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=False),
        sa.Column("label_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["applied_by"],
            ["annotators.id"],
            name=op.f("fk_derived_labels_applied_by_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_label_id"],
            ["group_labels.id"],
            name=op.f("fk_derived_labels_group_label_id_group_labels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_derived_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_derived_labels_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_derived_labels")),
        sa.UniqueConstraint(
            "trace_id", "group_label_id", name=op.f("uq_derived_labels_trace_id_group_label_id")
        ),
    )
    op.create_index(
        op.f("ix_derived_labels_group_label_id"), "derived_labels", ["group_label_id"], unique=False
    )
    op.create_index(
        op.f("ix_derived_labels_project_id"), "derived_labels", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_derived_labels_trace_id"), "derived_labels", ["trace_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_derived_labels_trace_id"), table_name="derived_labels")
    op.drop_index(op.f("ix_derived_labels_project_id"), table_name="derived_labels")
    op.drop_index(op.f("ix_derived_labels_group_label_id"), table_name="derived_labels")
    op.drop_table("derived_labels")
    op.drop_index("ix_group_labels_group", table_name="group_labels")
    op.drop_table("group_labels")
    op.drop_index("ix_trace_clusters_project_cluster", table_name="trace_clusters")
    op.drop_index(op.f("ix_trace_clusters_cluster_id"), table_name="trace_clusters")
    op.drop_table("trace_clusters")
    op.drop_index("ix_prompt_clusters_project_size", table_name="prompt_clusters")
    op.drop_table("prompt_clusters")
