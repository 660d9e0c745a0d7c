"""routing: team and queue members, queue strategy and ring time, channel routes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _members(table: str, group_table: str, group_column: str) -> None:
    op.create_table(
        table,
        sa.Column(group_column, sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            [group_column],
            [f"{group_table}.id"],
            name=op.f(f"fk_{table}_{group_column}_{group_table}"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users")),
        sa.PrimaryKeyConstraint(group_column, "user_id", name=op.f(f"pk_{table}")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_user_id"), ["user_id"], unique=False)


def upgrade() -> None:
    _members("team_members", "teams", "team_id")
    _members("queue_members", "queues", "queue_id")
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("strategy", sa.String(length=16), server_default="ring_all", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ring_seconds", sa.Integer(), server_default="20", nullable=False)
        )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("route_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("route_ref", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_channels_route", ["route_type", "route_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index("ix_channels_route")
        batch_op.drop_column("route_ref")
        batch_op.drop_column("route_type")
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("ring_seconds")
        batch_op.drop_column("strategy")
    for table in ("queue_members", "team_members"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_user_id"))
        op.drop_table(table)
