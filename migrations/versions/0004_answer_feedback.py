"""Citizens' feedback on fact answers (issue #18).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("answer_id", sa.String(32), nullable=False),
        sa.Column("fact_id", sa.String(100), nullable=False),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(30)),
        sa.Column("commented", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sender_id", "answer_id", name="uq_answer_feedback_answer"),
    )
    op.create_index("ix_answer_feedback_fact_id", "answer_feedback", ["fact_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_fact_id", table_name="answer_feedback")
    op.drop_table("answer_feedback")
