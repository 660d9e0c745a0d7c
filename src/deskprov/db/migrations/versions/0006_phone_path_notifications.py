"""PostgreSQL: announce each URL bound to a MAC to every server process

Revision ID: 0006
Revises: 0007b
Create Date: 2026-11-27 12:00:00

Every server process keeps the state of the URLs its phones fetch (see db/pghot.py) and reads
their organisations' data versions again for each batch of fetches, which tells it of every
change through the API. A bind (a phone's first fetch) does not move the data version: this
trigger NOTIFYs it, from inside the committing transaction (delivered at commit, never for a
rolled-back change), whoever made it: ``u <org id> <url id> <mac>``.

(The data version is not announced: PostgreSQL serialises the commits of all notifying
transactions of a cluster, fsync included, and every API write moves the version. Measured with
16 writers: ~700 commits/s notifying against ~1,600 without.)

SQLite needs none of this (its WAL index says when anything was committed): nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0007b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "deskprov_phone_path"  # db/pghot.py listens on it


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION deskprov_notify_binding() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(
                '{CHANNEL}', 'u ' || NEW.org_id || ' ' || NEW.id || ' ' || coalesce(NEW.mac, '')
            );
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER provisioning_urls_notify_binding
        AFTER UPDATE OF mac ON provisioning_urls FOR EACH ROW
        WHEN (OLD.mac IS DISTINCT FROM NEW.mac)
        EXECUTE FUNCTION deskprov_notify_binding()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER provisioning_urls_notify_binding ON provisioning_urls")
    op.execute("DROP FUNCTION deskprov_notify_binding()")
