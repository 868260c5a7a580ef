"""« Écrire à l'équipe » (issue #21): questions left for the data-protection team, their history,
and the link from an outgoing e-mail to the message it answers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assigned_to", sa.String(100)),
        sa.Column("answer", sa.Text),
        sa.Column("answered_by", sa.String(100)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_messages_sender_id", "team_messages", ["sender_id"])
    op.create_index("ix_team_messages_status_created", "team_messages", ["status", "created_at"])
    op.create_table(
        "team_message_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("team_messages.id"), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_message_events_message_id", "team_message_events", ["message_id"])
    with op.batch_alter_table("outgoing_emails") as batch:
        batch.add_column(
            sa.Column(
                "team_message_id", sa.Integer, sa.ForeignKey("team_messages.id", name="fk_outgoing_emails_team_message")
            )
        )
        batch.create_index("ix_outgoing_emails_team_message_id", ["team_message_id"])


def downgrade() -> None:
    with op.batch_alter_table("outgoing_emails") as batch:
        batch.drop_index("ix_outgoing_emails_team_message_id")
        batch.drop_column("team_message_id")
    op.drop_table("team_message_events")
    op.drop_table("team_messages")
