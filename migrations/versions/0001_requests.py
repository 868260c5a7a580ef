"""GDPR requests, their drafts and the audit trail of status changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gdpr_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("data_scope", sa.String(30), nullable=False),
        sa.Column("controller", sa.String(200), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("wrong_data", sa.Text),
        sa.Column("correct_data", sa.Text),
        sa.Column("objection_reason", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False, index=True),
        sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
        sa.Column("letter_key", sa.String(64), nullable=False),
    )
    op.create_index("ix_gdpr_requests_status_deadline", "gdpr_requests", ["status", "deadline"])
    op.create_table(
        "request_drafts",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("submission_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "request_status_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("gdpr_requests.id"), nullable=False, index=True),
        sa.Column("old_status", sa.String(20)),
        sa.Column("new_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_status_changes")
    op.drop_table("request_drafts")
    op.drop_index("ix_gdpr_requests_status_deadline", "gdpr_requests")
    op.drop_table("gdpr_requests")
