"""Migrations: the server's shortcut (no Alembic for a current database) agrees with Alembic."""

from __future__ import annotations

from pathlib import Path

from deskprov.db import migrate
from deskprov.db.engine import make_engine


def test_head_names_the_newest_migration() -> None:
    assert migrate.alembic_head() == migrate.HEAD


async def test_a_fresh_database_is_behind_until_upgraded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        assert await migrate.current_revision(engine) is None
        assert not await migrate.is_current(engine)
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.HEAD
        assert await migrate.is_current(engine)
        await migrate.upgrade(engine)  # current: nothing to do
        assert await migrate.is_current(engine)
    finally:
        await engine.dispose()
