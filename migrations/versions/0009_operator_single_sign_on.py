"""Console single sign-on (issue #22): each operator's professional e-mail address, set by an
administrator, by which an OpenID Connect login finds the account; the provider identity (issuer,
`sub`) the latest such login recorded; and the audit table of e-mail address changes.

Existing accounts get no address: single sign-on opens none of them until an administrator gives
it one (« Comptes »); passwords keep working.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("email", sa.String(254)))
        batch.add_column(sa.Column("sso_issuer", sa.String(500)))
        batch.add_column(sa.Column("sso_subject", sa.String(255)))
        batch.create_index("uq_operators_email", ["email"], unique=True)
        batch.create_index("uq_operators_sso_identity", ["sso_issuer", "sso_subject"], unique=True)
    op.create_table(
        "operator_email_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("old_email", sa.String(254)),
        sa.Column("new_email", sa.String(254)),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("operator_email_changes")
    with op.batch_alter_table("operators") as batch:
        batch.drop_index("uq_operators_sso_identity")
        batch.drop_index("uq_operators_email")
        batch.drop_column("sso_subject")
        batch.drop_column("sso_issuer")
        batch.drop_column("email")
