"""Alembic migrations, run from code (``deskprov db upgrade`` and ``serve`` on SQLite).

Alembic is imported only when a database is behind: it adds ~11 MB to every server process, and
a server starting on a current database needs nothing of it. ``HEAD`` names the newest
migration; a test holds it equal to Alembic's own head.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from deskprov.problems import Problem

if TYPE_CHECKING:
    from alembic.config import Config


log = logging.getLogger(__name__)

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
    """Bring the database at ``engine`` up to ``revision`` (and say what was done)."""
    before = await current_revision(engine)
    if revision == "head" and before == HEAD:
        return
    from alembic import command

    cfg = alembic_config()

    def run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    after = HEAD if revision == "head" else revision
    where = engine.url.render_as_string(hide_password=True)
    if before is None:
        log.info("database %s: schema created (revision %s)", where, after)
    else:
        log.info("database %s: schema migrated from revision %s to %s", where, before, after)


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == HEAD


async def require_current(engine: AsyncEngine) -> None:
    """``Problem`` unless the database is at this version's schema (PostgreSQL is migrated by
    ``deskprov db upgrade``, never by a server)."""
    found = await current_revision(engine)
    if found != HEAD:
        where = engine.url.render_as_string(hide_password=True)
        at = f"at revision {found}" if found else "empty"
        raise Problem(
            f"the database {where} is {at}; this version needs revision {HEAD}: "
            "run `deskprov db upgrade` (once per release, before starting servers)"
        )
