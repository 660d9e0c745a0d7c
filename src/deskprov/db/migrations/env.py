"""Alembic environment: always handed a live connection by ``deskprov.db.migrate``."""

from alembic import context

from deskprov.db.models import Base
from deskprov.registrar import tables as _registrar_tables  # noqa: F401 (their metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `deskprov db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
