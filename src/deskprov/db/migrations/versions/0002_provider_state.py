"""provider state: SIDs at the provider, the twilio edge, pending provider changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AT_PROVIDER = ("sip_domains", "credential_lists", "sip_users")


def upgrade() -> None:
    with op.batch_alter_table("provider_accounts") as batch_op:
        batch_op.add_column(sa.Column("edge", sa.String(length=32), nullable=True))
    for table in AT_PROVIDER:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("provider_sid", sa.String(length=34), nullable=True))
            batch_op.create_unique_constraint(
                f"uq_{table}_account_id_provider_sid", ["account_id", "provider_sid"]
            )
    with op.batch_alter_table("sip_users") as batch_op:
        # An imported credential has no password until one is set (the provider keeps a digest).
        batch_op.alter_column("password_sealed", existing_type=sa.Text(), nullable=True)
    op.create_table(
        "provider_pending_changes",
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_provider_pending_changes_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_provider_pending_changes_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_pending_changes")),
    )
    with op.batch_alter_table("provider_pending_changes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_pending_changes_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provider_pending_changes_org_id"), ["org_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("provider_pending_changes")
    with op.batch_alter_table("sip_users") as batch_op:
        batch_op.alter_column("password_sealed", existing_type=sa.Text(), nullable=False)
    for table in AT_PROVIDER:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_account_id_provider_sid", type_="unique")
            batch_op.drop_column("provider_sid")
    with op.batch_alter_table("provider_accounts") as batch_op:
        batch_op.drop_column("edge")
