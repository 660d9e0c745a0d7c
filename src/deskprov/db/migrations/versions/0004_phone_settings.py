"""phone settings per provider account; a time zone per provisioning URL

Revision ID: 0004
Revises: 0002b
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_settings",
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("ntp_servers", sa.JSON(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("voicemail_number", sa.String(length=16), nullable=True),
        sa.Column("transport", sa.String(length=8), nullable=True),
        sa.Column("srtp", sa.String(length=16), nullable=True),
        sa.Column("poll_minutes", sa.Integer(), nullable=True),
        sa.Column("nat_keepalive_seconds", sa.Integer(), nullable=True),
        sa.Column("firmware", sa.JSON(), nullable=True),
        sa.Column("admin_password_sealed", sa.Text(), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_phone_settings_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_phone_settings_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_settings")),
        sa.UniqueConstraint("account_id", name=op.f("uq_phone_settings_account_id")),
    )
    with op.batch_alter_table("phone_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_settings_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_phone_settings_org_id"), ["org_id"])
    with op.batch_alter_table("provisioning_urls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provisioning_urls", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("phone_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_settings_org_id"))
        batch_op.drop_index(batch_op.f("ix_phone_settings_account_id"))
    op.drop_table("phone_settings")
