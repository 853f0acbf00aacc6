"""Initial schema: every table of annotator/store/models.py, plus full-text search.

Search differs per dialect and has no ORM model (annotator/store/search.py queries it):
- SQLite: ``trace_fts``, a contentless FTS5 table (rowid = traces.id) so the trace text is not
  stored twice. SQLite 3.40 has no contentless_delete, so removing a row needs the FTS5 'delete'
  command with the original text (``codec.search_text_of`` regenerates it).
- PostgreSQL: ``trace_search(trace_id, text)`` with a GIN index on ``to_tsvector('simple', text)``.

``traces`` uses AUTOINCREMENT on SQLite: the deferred indexer keeps a watermark (the highest trace id
indexed), which is only sound if a deleted trace's id is never handed out again.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotators")),
        sa.UniqueConstraint("name", name=op.f("uq_annotators_name")),
    )
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_state")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("schema_json", sa.Text(), nullable=False),
        sa.Column("guidelines_md", sa.Text(), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=50), nullable=True),
        sa.Column("imported_by", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("n_imported", sa.Integer(), nullable=False),
        sa.Column("n_duplicates", sa.Integer(), nullable=False),
        sa.Column("n_rejected", sa.Integer(), nullable=False),
        sa.Column("reject_file", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_import_batches_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index(
        op.f("ix_import_batches_project_id"), "import_batches", ["project_id"], unique=False
    )

    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_project_members_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "annotator_id", name=op.f("pk_project_members")),
    )
    op.create_table(
        "traces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("source_format", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("n_turns", sa.Integer(), nullable=False),
        sa.Column("reasoning_chars", sa.Integer(), nullable=False),
        sa.Column("truncated_count", sa.Integer(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("meta_extra", sa.Text(), nullable=False),
        sa.Column("turns_json", sa.LargeBinary(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=True),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("gold_json", sa.Text(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_traces_batch_id_import_batches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_traces_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
        sa.UniqueConstraint("project_id", "uid", name=op.f("uq_traces_project_id_uid")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_traces_batch_id"), "traces", ["batch_id"], unique=False)
    op.create_index(
        "ix_traces_project_account", "traces", ["project_id", "account_id"], unique=False
    )
    op.create_index(
        "ix_traces_project_session", "traces", ["project_id", "session_id"], unique=False
    )
    op.create_index(
        "ix_traces_project_created", "traces", ["project_id", "created_at"], unique=False
    )
    op.create_index("ix_traces_project_model", "traces", ["project_id", "model"], unique=False)
    op.create_index(
        "ix_traces_project_stats",
        "traces",
        ["project_id", "source_format", "model", "reasoning_chars", "truncated_count"],
        unique=False,
    )

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_assignments_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_assignments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_assignments_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint(
            "annotator_id", "trace_id", name=op.f("uq_assignments_annotator_id_trace_id")
        ),
    )
    op.create_index(
        "ix_assignments_queue",
        "assignments",
        ["annotator_id", "project_id", "position"],
        unique=False,
    )
    op.create_index(op.f("ix_assignments_trace_id"), "assignments", ["trace_id"], unique=False)

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["annotators.id"],
            name=op.f("fk_comments_author_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_comments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_comments_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(op.f("ix_comments_project_id"), "comments", ["project_id"], unique=False)
    op.create_index(op.f("ix_comments_trace_id"), "comments", ["trace_id"], unique=False)

    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=True),
        sa.Column("label_json", sa.Text(), nullable=False),
        sa.Column("seconds_spent", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("with_suggestions", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_label_events_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_label_events_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_events")),
    )
    op.create_index(
        op.f("ix_label_events_created_at"), "label_events", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_label_events_project_id"), "label_events", ["project_id"], unique=False
    )
    op.create_index(
        "ix_label_events_trace", "label_events", ["trace_id", "annotator_id"], unique=False
    )
    op.create_index(
        "ix_label_events_annotator",
        "label_events",
        ["annotator_id", "project_id", "id"],
        unique=False,
    )

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=True),
        sa.Column("label_json", sa.Text(), nullable=False),
        sa.Column("seconds_spent", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("with_suggestions", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_labels_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["traces.id"], name=op.f("fk_labels_trace_id_traces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint(
            "trace_id", "annotator_id", name=op.f("uq_labels_trace_id_annotator_id")
        ),
    )
    op.create_index(
        "ix_labels_annotator_status",
        "labels",
        ["annotator_id", "project_id", "status"],
        unique=False,
    )
    op.create_index(op.f("ix_labels_verdict"), "labels", ["verdict"], unique=False)

    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("detector", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=True),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_suggestions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_suggestions_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
        sa.UniqueConstraint("trace_id", "detector", name=op.f("uq_suggestions_trace_id_detector")),
    )
    op.create_index(op.f("ix_suggestions_project_id"), "suggestions", ["project_id"], unique=False)

    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=100), nullable=False),
        sa.Column("label_json", sa.Text(), nullable=False),
        sa.Column("accepted_label_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_label_id"],
            ["labels.id"],
            name=op.f("fk_adjudications_accepted_label_id_labels"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["annotators.id"],
            name=op.f("fk_adjudications_lead_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_adjudications_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.id"],
            name=op.f("fk_adjudications_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjudications")),
    )
    op.create_index(
        op.f("ix_adjudications_project_id"), "adjudications", ["project_id"], unique=False
    )
    op.create_index(op.f("ix_adjudications_trace_id"), "adjudications", ["trace_id"], unique=False)
    _create_search()


def _create_search() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE trace_fts USING fts5("
            "text, content='', tokenize='unicode61 remove_diacritics 2')"
        )
    else:
        op.create_table(
            "trace_search",
            sa.Column("trace_id", sa.Integer(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(
                ["trace_id"],
                ["traces.id"],
                name=op.f("fk_trace_search_trace_id_traces"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_trace_search")),
        )
        op.create_index(
            "ix_trace_search_tsv",
            "trace_search",
            [sa.text("to_tsvector('simple', text)")],
            postgresql_using="gin",
        )


def _drop_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS trace_fts")
    else:
        op.drop_index("ix_trace_search_tsv", table_name="trace_search")
        op.drop_table("trace_search")


def downgrade() -> None:
    _drop_search()
    op.drop_index(op.f("ix_adjudications_trace_id"), table_name="adjudications")
    op.drop_index(op.f("ix_adjudications_project_id"), table_name="adjudications")

    op.drop_table("adjudications")
    op.drop_index(op.f("ix_suggestions_project_id"), table_name="suggestions")

    op.drop_table("suggestions")
    op.drop_index(op.f("ix_labels_verdict"), table_name="labels")
    op.drop_index("ix_labels_annotator_status", table_name="labels")

    op.drop_table("labels")
    op.drop_index("ix_label_events_annotator", table_name="label_events")
    op.drop_index("ix_label_events_trace", table_name="label_events")
    op.drop_index(op.f("ix_label_events_project_id"), table_name="label_events")
    op.drop_index(op.f("ix_label_events_created_at"), table_name="label_events")

    op.drop_table("label_events")
    op.drop_index(op.f("ix_comments_trace_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_project_id"), table_name="comments")

    op.drop_table("comments")
    op.drop_index(op.f("ix_assignments_trace_id"), table_name="assignments")
    op.drop_index("ix_assignments_queue", table_name="assignments")

    op.drop_table("assignments")
    op.drop_index("ix_traces_project_stats", table_name="traces")
    op.drop_index("ix_traces_project_model", table_name="traces")
    op.drop_index("ix_traces_project_created", table_name="traces")
    op.drop_index("ix_traces_project_session", table_name="traces")
    op.drop_index("ix_traces_project_account", table_name="traces")
    op.drop_index(op.f("ix_traces_batch_id"), table_name="traces")

    op.drop_table("traces")
    op.drop_table("project_members")
    op.drop_index(op.f("ix_import_batches_project_id"), table_name="import_batches")

    op.drop_table("import_batches")
    op.drop_table("projects")
    op.drop_table("app_state")
    op.drop_table("annotators")
