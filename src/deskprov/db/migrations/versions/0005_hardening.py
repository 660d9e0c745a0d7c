"""hardening 2: server-side admin sessions, a binding deadline for provisioning URLs

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_admin_sessions_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_admin_sessions_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_admin_sessions")),
    )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_sessions_key_id"), ["key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_sessions_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("provisioning_urls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bind_before", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provisioning_urls", schema=None) as batch_op:
        batch_op.drop_column("bind_before")
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_sessions_org_id"))
        batch_op.drop_index(batch_op.f("ix_admin_sessions_key_id"))
    op.drop_table("admin_sessions")
