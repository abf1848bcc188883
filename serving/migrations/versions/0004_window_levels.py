"""Online calibration levels of the delivery windows, per model version, segment and stated coverage.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "window_levels",
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=300), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_version", "segment", "coverage", name=op.f("pk_window_levels")),
    )


def downgrade() -> None:
    op.drop_table("window_levels")
