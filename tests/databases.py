"""Which database the suite runs on: a fresh SQLite file per test by default, or a fresh
PostgreSQL database per test when DESKPROV_TEST_POSTGRES_URL names a server (its maintenance
database, e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).

PostgreSQL databases are copied from one migrated template (CREATE DATABASE ... TEMPLATE), the
same way the SQLite files are copied from one migrated file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url

from deskprov.db import migrate
from deskprov.db.engine import make_engine

POSTGRES_URL = os.environ.get("DESKPROV_TEST_POSTGRES_URL", "").strip()
ON_POSTGRES = bool(POSTGRES_URL)
TEMPLATE = "deskprov_test_template"
_PREFIX = "deskprov_test_"

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync or async code (in a thread with its own loop)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _named(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    engine = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def prepare_template(folder: Path) -> str:
    """Build the migrated template once per test session; returns what ``fresh_url`` copies."""
    if ON_POSTGRES:
        run_sync(_drop_leftovers())
        run_sync(_admin(f"CREATE DATABASE {TEMPLATE}"))
        run_sync(_migrate(_named(TEMPLATE)))
        return TEMPLATE
    path = folder / "template.db"
    run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
    return str(path)


async def _drop_leftovers() -> None:
    engine = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            names = (
                await conn.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                    {"p": _PREFIX + "%"},
                )
            ).scalars()
            for name in list(names):
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def fresh_url(template: str, folder: Path) -> str:
    """A database URL of a new, migrated, empty database of its own."""
    if ON_POSTGRES:
        name = _PREFIX + uuid.uuid4().hex[:12]
        run_sync(_admin(f"CREATE DATABASE {name} TEMPLATE {template}"))
        return _named(name)
    path = folder / "deskprov.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


def drop(url: str) -> None:
    """Drop a database ``fresh_url`` made on PostgreSQL (SQLite files go with their folder)."""
    if ON_POSTGRES:
        name = make_url(url).database
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
