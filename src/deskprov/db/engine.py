"""The engine and sessions: one ``Database`` per app, closed by the app's cleanup context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


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
