"""Services for command-line use, outside the web server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from deskprov.db import migrate
from deskprov.db.engine import Database, check_writable, make_engine, unwritable_as_error
from deskprov.security.keyring import Keyring
from deskprov.security.secretbox import SecretBox
from deskprov.services.base import Deps, utc_now
from deskprov.services.keyfile import open_key_file
from deskprov.settings import Settings


@asynccontextmanager
async def offline_db(settings: Settings) -> AsyncIterator[Database]:
    """The database: an SQLite one brought up to date first, a PostgreSQL one required to be
    (``deskprov db upgrade`` migrates it, never a server or another command)."""
    db = Database(make_engine(settings.database_url))
    try:
        async with unwritable_as_error(db):
            if settings.is_sqlite:
                await migrate.upgrade(db.engine)
            else:
                await migrate.require_current(db.engine)
        await check_writable(db)
        yield db
    finally:
        await db.close()


async def offline_key_file(settings: Settings) -> Keyring:
    """The key file's keys (see ``open_key_file``: a missing one is not always made anew)."""
    async with offline_db(settings) as db:
        return await open_key_file(db, settings.key_file)


@asynccontextmanager
async def offline_deps(settings: Settings) -> AsyncIterator[Deps]:
    async with offline_db(settings) as db:
        keys = await open_key_file(db, settings.key_file)
        yield Deps(
            db=db, box=SecretBox(keys), settings=settings, clock=utc_now, http=None, keyring=keys
        )
