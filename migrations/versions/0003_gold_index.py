"""An index on (project_id, is_gold) for the traces table.

Why: ``is_gold`` is stored after ``turns_json`` and ``original`` in each row, and SQLite reaches a
column behind a large value by walking its overflow pages; counting a project's gold items (the
dashboard's progress, gold accuracy) therefore read every trace's bytes. With the index the count
reads the index alone. A plain index: nothing here needs batch mode on SQLite.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_traces_project_gold", "traces", ["project_id", "is_gold"])


def downgrade() -> None:
    op.drop_index("ix_traces_project_gold", table_name="traces")
