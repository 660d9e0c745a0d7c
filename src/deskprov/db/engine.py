"""The engine and sessions: one ``Database`` per app, closed by the app's cleanup context."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _private_file(engine.url.database)
        _tune_sqlite(engine)
    return engine


def _private_file(database: str | None) -> None:
    """Create a new SQLite file with mode 0600 (it holds phone uploads and sealed secrets;
    SQLite gives its -wal and -shm files the same mode). An existing one is left as it is,
    with a warning when others may read it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(database).st_mode)
        if mode & 0o077:
            log.warning(
                "database %s is readable by others (mode %o); use chmod 600", database, mode
            )
    except OSError:
        pass  # (a missing directory or a read-only one: SQLite says so when it opens it)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, enforced foreign keys, and BEGIN IMMEDIATE for writes.

    pysqlite's own transaction handling is switched off so that we issue BEGIN ourselves: a write
    transaction that starts as a reader and upgrades later can fail at once with "database is
    locked"; one that takes the write lock at BEGIN waits for the busy timeout instead.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Hands out sessions: ``write()`` for a transaction that changes data, ``read()`` otherwise."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._reader = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._writer = async_sessionmaker(
            engine.execution_options(sqlite_immediate=True), expire_on_commit=False, autoflush=False
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


class DatabaseUnwritable(RuntimeError):
    """The database can be read but not written (a read-only file, directory or mount, a
    PostgreSQL standby or read-only role): found at start, said in one line."""


async def check_writable(db: Database) -> None:
    """Refuse to start on a database that cannot take writes (they would fail one by one,
    later). Writes nothing: the probe is rolled back."""
    async with unwritable_as_error(db):
        writer = db.engine.execution_options(sqlite_immediate=True)
        async with writer.connect() as conn:
            transaction = await conn.begin()
            if db.engine.dialect.name == "sqlite":  # (a header write: refused when read-only)
                version = (await conn.exec_driver_sql("PRAGMA user_version")).scalar()
                await conn.exec_driver_sql(f"PRAGMA user_version={int(version or 0)}")
            elif (await conn.execute(text("SHOW transaction_read_only"))).scalar() == "on":
                raise DatabaseUnwritable(f"the database {_shown(db)} is read-only")
            await transaction.rollback()


@asynccontextmanager
async def unwritable_as_error(db: Database) -> AsyncIterator[None]:
    """A read-only database's error, raised inside, as ``DatabaseUnwritable``."""
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig)
        signs = ("readonly", "read-only", "read only", "unable to open database file")
        if not any(sign in reason.lower() for sign in signs):
            raise
        raise DatabaseUnwritable(
            f"the database {_shown(db)} cannot be written ({reason}): check the permissions "
            "of the file and its directory, and the mount"
        ) from None


def _shown(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=True)
