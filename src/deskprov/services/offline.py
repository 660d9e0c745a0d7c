"""Services for command-line use, outside the web server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from deskprov.db import migrate
from deskprov.db.engine import Database, make_engine
from deskprov.security import keyring
from deskprov.security.secretbox import SecretBox
from deskprov.services.base import Deps, utc_now
from deskprov.settings import Settings


@asynccontextmanager
async def offline_deps(settings: Settings) -> AsyncIterator[Deps]:
    db = Database(make_engine(settings.database_url))
    try:
        if settings.is_sqlite:
            await migrate.upgrade(db.engine)
        keys = keyring.load_or_create(settings.key_file)
        yield Deps(
            db=db, box=SecretBox(keys), settings=settings, clock=utc_now, http=None, keyring=keys
        )
    finally:
        await db.close()
