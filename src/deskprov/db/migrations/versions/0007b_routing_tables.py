"""registrar routing tables: the routing plan's decisions, as Kamailio reads them (issue 14)

``kamailio_route`` (what each dialled string of a whippy_phone account reaches, and where calls
from the PSTN gateway to its numbers go) and ``kamailio_caller`` (each SIP user's caller ID).
deskprov fills them as data changes; `deskprov kamailio config` derives them for data that
existed before this migration.

Revision ID: 0007b
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007b"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kamailio_route",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("dialled", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("ring_seconds", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=160), nullable=False),
        sa.Column("reaches_id", sa.String(length=32), nullable=False),
        sa.Column("via_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_kamailio_route_account_id_provider_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kamailio_route")),
        sa.UniqueConstraint(
            "account_id",
            "source",
            "dialled",
            "position",
            name=op.f("uq_kamailio_route_account_id_source_dialled_position"),
        ),
    )
    with op.batch_alter_table("kamailio_route", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kamailio_route_dialled"), ["dialled"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kamailio_route_reaches_id"), ["reaches_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kamailio_route_via_id"), ["via_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kamailio_route_key_id"), ["key_id"], unique=False)
    op.create_table(
        "kamailio_caller",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_kamailio_caller_account_id_provider_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kamailio_caller")),
        sa.UniqueConstraint(
            "account_id", "username", name=op.f("uq_kamailio_caller_account_id_username")
        ),
    )


def downgrade() -> None:
    op.drop_table("kamailio_caller")
    with op.batch_alter_table("kamailio_route", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kamailio_route_key_id"))
        batch_op.drop_index(batch_op.f("ix_kamailio_route_via_id"))
        batch_op.drop_index(batch_op.f("ix_kamailio_route_reaches_id"))
        batch_op.drop_index(batch_op.f("ix_kamailio_route_dialled"))
    op.drop_table("kamailio_route")
