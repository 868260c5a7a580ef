"""Request lifecycle (issue #17): e-mail verification codes, the outbox, transmission to the
controller and deadline extension.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gdpr_requests") as batch:
        batch.alter_column("deadline", existing_type=sa.Date, nullable=True)
        batch.add_column(sa.Column("initial_deadline", sa.Date))
        batch.add_column(sa.Column("transmitted_on", sa.Date))
        batch.add_column(sa.Column("transmitted_to", sa.String(200)))
        batch.add_column(sa.Column("transmission_channel", sa.String(40)))
        batch.add_column(sa.Column("transmitted_by", sa.String(100)))
        batch.add_column(sa.Column("extension_reason", sa.Text))
        batch.add_column(sa.Column("extended_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE gdpr_requests SET initial_deadline = deadline")
    with op.batch_alter_table("request_status_changes") as batch:
        batch.add_column(sa.Column("action", sa.String(20), nullable=False, server_default="statut"))
    op.create_table(
        "email_verifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("submission_key", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_email_verifications_sender_id", "email_verifications", ["sender_id"])
    op.create_index("ix_email_verifications_submission_key", "email_verifications", ["submission_key"])
    op.create_index("ix_email_verifications_email", "email_verifications", ["email"])
    op.create_table(
        "outgoing_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
        sa.Column("purpose", sa.String(30), nullable=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("gdpr_requests.id")),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outgoing_emails_request_id", "outgoing_emails", ["request_id"])
    op.create_index("ix_outgoing_emails_status_next", "outgoing_emails", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outgoing_emails")
    op.drop_table("email_verifications")
    with op.batch_alter_table("request_status_changes") as batch:
        batch.drop_column("action")
    with op.batch_alter_table("gdpr_requests") as batch:
        for column in (
            "extended_at",
            "extension_reason",
            "transmitted_by",
            "transmission_channel",
            "transmitted_to",
            "transmitted_on",
            "initial_deadline",
        ):
            batch.drop_column(column)
        batch.alter_column("deadline", existing_type=sa.Date, nullable=False)
