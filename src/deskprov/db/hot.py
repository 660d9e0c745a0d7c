"""The phone endpoint's reads and its one write (binding a URL to a MAC), kept off the ORM.

SQLite: a plain synchronous connection used on the event loop. A primary-key read takes a few
microseconds there, far less than a hop to aiosqlite's thread, and WAL lets it read while others
write. PostgreSQL (asyncpg): raw asyncpg connections, URL states kept until the database says
they changed (pghot.py). Anything else: the async engine, with SQLAlchemy Core, every request.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deskprov.db.engine import Database
from deskprov.db.models import AuditEvent, Organisation, ProvisioningUrl
from deskprov.db.walwatch import WalWatch

HOT_BUSY_TIMEOUT_MS = 2_000
URL_STATES = 100_000  # URL states remembered between database changes (~300 bytes each)


class Reader(Protocol):
    """Runs a Core select; ``params`` only with a constant statement of named bind parameters.
    Rows are tuples: unpack them by position."""

    async def all(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]: ...


class SyncReader:
    """SQLite on the event loop. A constant statement with named bind parameters (called with
    ``params``) is compiled once and run on the raw sqlite3 connection; any other statement goes
    through SQLAlchemy."""

    def __init__(self, engine: Engine, raw: sqlite3.Connection, compiled: dict[int, Any]) -> None:
        self._engine = engine
        self._conn: Connection | None = None  # taken from the pool only when needed
        self._raw = raw
        self._compiled = compiled

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    async def all(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        if params is None:
            if self._conn is None:
                self._conn = self._engine.connect()
            return self._conn.execute(stmt).all()
        prepared = self._compiled.get(id(stmt))
        if prepared is None:
            compiled = stmt.compile(dialect=self._engine.dialect)
            prepared = (str(compiled), tuple(compiled.positiontup or ()), stmt)
            self._compiled[id(stmt)] = prepared  # (the statement is kept: its id stays unique)
        sql, names, _ = prepared
        return self._raw.execute(sql, [params[n] for n in names]).fetchall()


class AsyncReader:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def all(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        return (await self._conn.execute(stmt, params)).all()


@dataclass(frozen=True)
class UrlState:
    id: str
    org_id: str
    account_id: str
    user_id: str
    vendor: str
    mac: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    key_id: str
    data_version: int
    timezone: str | None = None  # the URL's own time zone, if it has one
    bind_before: datetime | None = None  # an unbound URL must be claimed by then (installers' URLs)


URL_STATE = select(
    ProvisioningUrl.id,
    ProvisioningUrl.org_id,
    ProvisioningUrl.account_id,
    ProvisioningUrl.user_id,
    ProvisioningUrl.vendor,
    ProvisioningUrl.mac,
    ProvisioningUrl.expires_at,
    ProvisioningUrl.revoked_at,
    ProvisioningUrl.key_id,
    Organisation.data_version,
    ProvisioningUrl.timezone,
    ProvisioningUrl.bind_before,
).join(Organisation, Organisation.id == ProvisioningUrl.org_id)


class _Busy(Exception):
    """Another connection holds SQLite's write lock."""


@dataclass(frozen=True)
class PendingBind:
    url_id: str
    mac: str
    event: dict[str, Any]
    done: asyncio.Future[str | None]


def _bind_stmt(url_id: Any, mac: Any) -> Any:
    return (
        update(ProvisioningUrl)
        .where(ProvisioningUrl.id == url_id, ProvisioningUrl.mac.is_(None))
        .values(mac=mac)
    )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _state_stmt(url_id: Any, org_id: Any) -> Any:
    return URL_STATE.where(ProvisioningUrl.id == url_id, ProvisioningUrl.org_id == org_id)


class HotStore(Protocol):
    def reader(self) -> Any: ...  # async context manager yielding a Reader

    async def url_state(self, url_id: str, org_id: str) -> UrlState | None: ...

    async def bind(self, url_id: str, mac: str, event: dict[str, Any]) -> str | None:
        """Bind the URL to ``mac`` if it is unbound, recording ``event`` (an audit_events row)
        in the same transaction; the MAC the URL is bound to afterwards."""
        ...

    async def close(self) -> None: ...


class SqliteHotStore:
    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite")
        self._engine: Engine = create_engine(sync_url, connect_args={"check_same_thread": False})

        @event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves (see engine.py)
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout={HOT_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(self._engine, "begin")
        def _on_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        # The per-request read runs on one plain sqlite3 connection with SQL compiled once from
        # the Core statement: SQLAlchemy's per-execution overhead is many times the query's.
        compiled = _state_stmt(bindparam("url_id"), bindparam("org_id")).compile(
            dialect=self._engine.dialect
        )
        self._state_sql = str(compiled)
        self._state_params = tuple(compiled.positiontup or ())
        self._raw = sqlite3.connect(
            sync_url.database or "", check_same_thread=False, isolation_level=None
        )
        self._raw.execute(f"PRAGMA busy_timeout={HOT_BUSY_TIMEOUT_MS}")
        self._raw.execute("PRAGMA query_only=ON")
        self._raw.execute("PRAGMA data_version")  # (opens the WAL index before it is watched)
        self._wal = WalWatch(sync_url.database or "")
        self._wal.changed()  # maps the file now, not on a phone's request
        self._changes: int | None = None
        self._states: dict[tuple[str, str], UrlState] = {}
        self._compiled: dict[int, Any] = {}
        # The binding write, prepared the same way, on a connection that never waits for locks.
        self._writer = sqlite3.connect(
            sync_url.database or "", check_same_thread=False, isolation_level=None
        )
        # ... and one that waits for them (used from a worker thread only).
        self._patient = sqlite3.connect(
            sync_url.database or "", check_same_thread=False, isolation_level=None
        )
        for conn, timeout in ((self._writer, 0), (self._patient, HOT_BUSY_TIMEOUT_MS)):
            conn.execute(f"PRAGMA busy_timeout={timeout}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")  # as the engine's (WAL: no fsync a commit)
        self._binds: list[PendingBind] = []
        self._binding = False
        dialect = self._engine.dialect
        bind = _bind_stmt(bindparam("url_id"), bindparam("mac")).compile(dialect=dialect)
        self._bind_sql, self._bind_names = str(bind), tuple(bind.positiontup or ())
        table = AuditEvent.__table__
        audit = (
            insert(AuditEvent)
            .values({c.name: bindparam(c.name) for c in table.c})
            .compile(dialect=dialect)
        )
        self._audit_sql, self._audit_names = str(audit), tuple(audit.positiontup or ())
        self._audit_columns = {c.name: c.type.bind_processor(dialect) for c in table.c}
        self._mac_sql = "SELECT mac FROM provisioning_urls WHERE id = ?"

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        reader = SyncReader(self._engine, self._raw, self._compiled)
        try:
            yield reader
        finally:
            reader.close()

    async def url_state(self, url_id: str, org_id: str) -> UrlState | None:
        # Read again only when the database changed. SQLite's data_version moves with every
        # commit by any other connection (this one only reads), in this process or another:
        # one statement instead of a join, and never a stale answer. The WAL-index header,
        # read from shared memory first, says when even that statement can be skipped.
        if self._wal.changed():
            (changes,) = self._raw.execute("PRAGMA data_version").fetchone()
            if changes != self._changes:
                self._changes = changes
                self._states.clear()
        key = (url_id, org_id)
        state = self._states.get(key)
        if state is None:
            state = self._read_state(url_id, org_id)
            if state is not None:  # (an unknown URL is refused; nothing worth keeping)
                if len(self._states) >= URL_STATES:
                    self._states.clear()
                self._states[key] = state
        return state

    def _read_state(self, url_id: str, org_id: str) -> UrlState | None:
        values = {"url_id": url_id, "org_id": org_id}
        row = self._raw.execute(
            self._state_sql, [values[name] for name in self._state_params]
        ).fetchone()
        if row is None:
            return None
        (id_, org, account, user, vendor, mac, expires, revoked, key_id, version, zone, bind) = row
        return UrlState(
            id_,
            org,
            account,
            user,
            vendor,
            mac,
            _moment(expires),
            _moment(revoked),
            key_id,
            version,
            zone,
            _moment(bind),
        )

    async def bind(self, url_id: str, mac: str, event: dict[str, Any]) -> str | None:
        # Binds that arrive while others are being written wait and go together, in one
        # transaction: in a boot storm thousands of phones bind at once, and one transaction
        # each meant thousands of turns at SQLite's single write lock.
        done = asyncio.get_running_loop().create_future()
        self._binds.append(PendingBind(url_id, mac, event, done))
        if not self._binding:
            self._binding = True
            asyncio.get_running_loop().create_task(self._bind_pending())
        result: str | None = await done
        return result

    async def _bind_pending(self) -> None:
        try:
            while self._binds:
                batch, self._binds = self._binds, []
                try:
                    # On the loop without waiting for the write lock (the common case); if it is
                    # taken, wait in a thread: never on the loop, where the writer holding the
                    # lock (an aiosqlite transaction of this process) may need the loop.
                    try:
                        bound = self._bind_all(self._writer, batch)
                    except _Busy:
                        bound = await asyncio.to_thread(self._bind_all, self._patient, batch)
                except BaseException as exc:
                    for item in batch:
                        if not item.done.done():  # (its request may have been cancelled)
                            item.done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue  # (the binds queued meanwhile are tried: none is left waiting)
                for item, mac in zip(batch, bound, strict=True):
                    if not item.done.done():
                        item.done.set_result(mac)
        finally:
            self._binding = False

    def _bind_all(self, conn: sqlite3.Connection, batch: list[PendingBind]) -> list[str | None]:
        """Each URL bound to its MAC if still unbound (with its audit event), in one
        transaction; the MAC each URL is bound to afterwards."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _Busy from exc
        bound: list[str | None] = []
        columns: dict[str, Any] = self._audit_columns
        try:
            for item in batch:
                values = {"url_id": item.url_id, "mac": item.mac}
                updated = conn.execute(self._bind_sql, [values[n] for n in self._bind_names])
                if updated.rowcount == 1:
                    event = item.event
                    conn.execute(
                        self._audit_sql,
                        [
                            columns[n](event[n]) if columns[n] else event[n]
                            for n in self._audit_names
                        ],
                    )
                    bound.append(item.mac)
                else:  # bound before (or gone): to what?
                    row = conn.execute(self._mac_sql, [item.url_id]).fetchone()
                    bound.append(None if row is None else row[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return bound

    async def close(self) -> None:
        """Call after every other connection of this process to the database is closed (the
        WAL watch's descriptor holds this process's locks on the shared-memory file)."""
        self._raw.close()
        self._writer.close()
        self._patient.close()
        self._engine.dispose()
        self._wal.close()


class AsyncHotStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        async with self._engine.connect() as conn:
            yield AsyncReader(conn)

    async def url_state(self, url_id: str, org_id: str) -> UrlState | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_state_stmt(url_id, org_id))).first()
        return None if row is None else UrlState(*row)

    async def bind(self, url_id: str, mac: str, event: dict[str, Any]) -> str | None:
        async with self._engine.begin() as conn:
            if (await conn.execute(_bind_stmt(url_id, mac))).rowcount == 1:
                await conn.execute(insert(AuditEvent).values(**event))
            bound = (
                await conn.execute(select(ProvisioningUrl.mac).where(ProvisioningUrl.id == url_id))
            ).scalar()
        return bound

    async def close(self) -> None:
        pass


def hot_store(db: Database, refresh_keys: Callable[[], None] = lambda: None) -> HotStore:
    """The phone path's store for ``db``; ``refresh_keys`` looks at the key file again (the
    PostgreSQL store does, once per batch of fetches)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteHotStore(url.render_as_string(hide_password=False))
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "asyncpg":
        from deskprov.db.pghot import PgHotStore  # (it imports this module)

        return PgHotStore(db.engine, refresh_keys)
    return AsyncHotStore(db.engine)
