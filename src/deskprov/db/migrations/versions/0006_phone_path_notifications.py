"""PostgreSQL: announce what the phone path keeps in memory has changed

Revision ID: 0006
Revises: 0007b
Create Date: 2026-11-27 12:00:00

Every server process keeps the state of the URLs its phones fetch (see db/pghot.py). Two
triggers NOTIFY it, from inside the committing transaction (delivered at commit, never for a
rolled-back change), whoever made the change:

- an organisation's data version moved (every change through the API moves it, revocations
  included): ``o <org id> <data version>``;
- a URL was bound to a MAC (a phone's first fetch, the one change that does not move the data
  version): ``u <org id> <url id> <mac>``.

SQLite needs neither (its WAL index says when anything was committed): nothing to do there.
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
        CREATE FUNCTION deskprov_notify_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'o ' || NEW.id || ' ' || NEW.data_version);
            RETURN NULL;
        END $$
        """
    )
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
        CREATE TRIGGER organisations_notify_version
        AFTER UPDATE OF data_version ON organisations FOR EACH ROW
        WHEN (OLD.data_version IS DISTINCT FROM NEW.data_version)
        EXECUTE FUNCTION deskprov_notify_version()
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
    op.execute("DROP TRIGGER organisations_notify_version ON organisations")
    op.execute("DROP FUNCTION deskprov_notify_binding()")
    op.execute("DROP FUNCTION deskprov_notify_version()")
