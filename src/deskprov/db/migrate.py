"""Alembic migrations, run from code (``deskprov db upgrade`` and ``serve`` on SQLite).

Alembic is imported only when a database is behind: it adds ~11 MB to every server process, and
a server starting on a current database needs nothing of it. ``HEAD`` names the newest
migration; a test holds it equal to Alembic's own head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0006"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's migration (None for a database Alembic never touched)."""
    async with engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except (OperationalError, ProgrammingError):  # no such table
            return None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database at ``engine`` up to ``revision``."""
    if revision == "head" and await current_revision(engine) == HEAD:
        return
    from alembic import command

    cfg = alembic_config()

    def run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == HEAD
