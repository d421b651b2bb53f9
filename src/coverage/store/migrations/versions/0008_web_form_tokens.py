"""The web app's spent one-time form tokens, in the database: shared by every web worker, kept across restarts

Revision ID: 0008_web_form_tokens
Revises: 0007_access_log_append_only
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_web_form_tokens"
down_revision: str | Sequence[str] | None = "0007_access_log_append_only"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_form_tokens",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["web_sessions.id"],
            name=op.f("fk_web_form_tokens_session_id_web_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "token", name=op.f("pk_web_form_tokens")),
    )
    op.create_index("ix_web_form_tokens_spent_at", "web_form_tokens", ["spent_at"])


def downgrade() -> None:
    op.drop_index("ix_web_form_tokens_spent_at", table_name="web_form_tokens")
    op.drop_table("web_form_tokens")
