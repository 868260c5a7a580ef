"""Operator roles (issue #22.1): `operators.role` (lecteur, réviseur, dpo, admin) and the audit
table of role changes.

Every operator that exists when this migration runs becomes `admin`, so an existing install keeps
an administrator (and its operators keep opening the accounts page until an admin gives each the
role it needs); each is recorded in `operator_role_changes` as changed by « migration 0008 ».
Accounts created afterwards are `lecteur` unless given another role.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("role", sa.String(20), nullable=False, server_default="lecteur"))
    op.execute("UPDATE operators SET role = 'admin'")
    op.create_table(
        "operator_role_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("old_role", sa.String(20)),
        sa.Column("new_role", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO operator_role_changes (operator, old_role, new_role, changed_by, changed_at) "
        "SELECT username, NULL, 'admin', 'migration 0008', CURRENT_TIMESTAMP FROM operators"
    )


def downgrade() -> None:
    op.drop_table("operator_role_changes")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("role")
