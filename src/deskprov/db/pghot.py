"""The phone endpoint's reads and its one write on PostgreSQL, as fresh as SQLite's and near its
speed.

On SQLite (hot.py) a process keeps the URL states its phones fetch and reads them again after
any commit, which the WAL index in shared memory tells without a system call. PostgreSQL has no
such thing, so:

- Kept per process: each fetched URL's state (revoked, expiry, bound MAC, the organisation's
  data version), grouped by organisation, with the data version it was read at.
- Checked per batch: the fetches in flight wait together for one round trip, sent after all of
  them arrived, that reads their organisations' data versions (every change through the API
  moves its organisation's, revocations included), and the whole state of URLs not kept. A
  version that moved drops what was kept for its organisation. So a fetch that arrives after a
  commit is always answered from after it: a prepared statement on a raw asyncpg connection,
  shared by the batch, instead of a read through the ORM per fetch.
- Told by the database: a bind (a phone's first fetch) does not move the data version, so a
  trigger (migration 0006) NOTIFYs it from inside the committing transaction, and the checking
  connection LISTENs: the bound URL's kept state takes the MAC. (Missing one would cost no
  freshness, only a bind statement that finds the URL bound. Versions are not notified:
  PostgreSQL serialises all notifying commits of a cluster, and every API write moves one.)
- A lost connection drops everything kept (notifications may have been missed); the next check
  connects again, and a check that fails is tried once more on a new connection.

Each check also looks at the key file (``refresh_keys``), so that a signing key retired on this
host is refused on the very next fetch (the phone service asks for the key after the state).

Binds are batched as on SQLite: those that arrive while others are being written go together,
in one transaction (one statement: one round trip). Files' reads (``reader``) run compiled Core
statements on a small pool of raw asyncpg connections: SQLAlchemy's cost per execution is
several times a key lookup's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg
from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deskprov.db.hot import URL_STATE, URL_STATES, PendingBind, Reader, UrlState
from deskprov.db.models import AuditEvent, Organisation, ProvisioningUrl

log = logging.getLogger(__name__)

CHANNEL = "deskprov_phone_path"  # what migration 0006's trigger NOTIFYs
CHECK_TIMEOUT = 5.0  # seconds; a check taking longer gives its connection up
READERS = 4  # connections for files' reads
# What each connection calls itself (pg_stat_activity.application_name):
LISTENING = "deskprov phone path: notifications"
BINDING = "deskprov phone path: binds"
READING = "deskprov phone path: reads"

Row = Sequence[Any]
Asking = tuple[str, str, "asyncio.Future[UrlState | None]"]


def _any_id() -> Any:
    return any_(bindparam("ids", type_=ARRAY(String)))


STATES = URL_STATE.where(ProvisioningUrl.id == _any_id())
VERSIONS = select(Organisation.id, Organisation.data_version).where(Organisation.id == _any_id())


def bind_sql(dialect: Any) -> tuple[str, tuple[str, ...]]:
    """One statement (one round trip, one transaction) that binds a batch: each asked URL to
    the first MAC asked for it if it is still unbound, with that bind's audit event, answering
    every asked URL's MAC afterwards; and the audit columns its parameters 2.. are arrays of.

    The URLs are locked first, in one order, so that two processes' batches cannot deadlock;
    a URL bound meanwhile by another process is seen bound once its lock is had (READ
    COMMITTED reads the newest version of a row it locks)."""
    audit = AuditEvent.__table__
    names = tuple(c.name for c in audit.c)
    arrays = ", ".join(
        f"${i}::{c.type.compile(dialect=dialect)}[]" for i, c in enumerate(audit.c, start=3)
    )
    columns = ", ".join(names)
    sql = f"""
        WITH asked AS (
            SELECT * FROM unnest($1::varchar[], $2::varchar[], {arrays})
                WITH ORDINALITY AS a(url_id, mac, {columns}, n)
        ), locked AS (
            SELECT id, mac FROM provisioning_urls WHERE id IN (SELECT url_id FROM asked)
            ORDER BY id FOR UPDATE
        ), won AS (
            SELECT DISTINCT ON (asked.url_id) asked.*
            FROM asked JOIN locked ON locked.id = asked.url_id AND locked.mac IS NULL
            ORDER BY asked.url_id, asked.n
        ), bound AS (
            UPDATE provisioning_urls SET mac = won.mac FROM won
            WHERE provisioning_urls.id = won.url_id
        ), audited AS (
            INSERT INTO audit_events ({columns}) SELECT {columns} FROM won
        )
        SELECT locked.id, coalesce(won.mac, locked.mac)
        FROM locked LEFT JOIN won ON won.url_id = locked.id
    """
    return sql, names


class Compiled:
    """A Core statement compiled once for asyncpg: its SQL and its parameters' names in order."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


class Readers:
    """A few connections for files' reads, each used by one read at a time. (asyncpg's own
    pool spends twice a query's CPU on taking and giving back a connection.)"""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._opened = 0
        self._idle: list[asyncpg.Connection] = []
        self._waiting: deque[asyncio.Future[asyncpg.Connection | None]] = deque()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        conn = await self._take()
        try:
            rows = await conn.fetch(sql, *args, timeout=CHECK_TIMEOUT)
        except BaseException:
            conn.terminate()  # (in an unknown state: a read cut short, or a broken connection)
            self._give(conn)
            raise
        self._give(conn)
        return rows

    async def _take(self) -> asyncpg.Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._opened < self._size:
                self._opened += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._opened -= 1
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                handed = None if waiter.cancelled() or not waiter.done() else waiter.result()
                if handed is not None:
                    self._give(handed)  # (handed over just as this read was cancelled)
                raise
            if conn is not None:
                return conn  # (None: one went away, so this read may open a new one)

    def _give(self, conn: asyncpg.Connection) -> None:
        handed: asyncpg.Connection | None = conn
        if conn.is_closed():
            self._opened -= 1
            handed = None
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return
        if handed is not None:
            self._idle.append(handed)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close(timeout=CHECK_TIMEOUT)


class PgReader:
    """A constant statement with named bind parameters (called with ``params``) runs compiled
    on the readers' pool; any other statement goes through SQLAlchemy."""

    def __init__(self, engine: AsyncEngine, readers: Readers, compiled: dict[int, Any]) -> None:
        self._engine = engine
        self._readers = readers
        self._compiled = compiled
        self._conn: AsyncConnection | None = None  # taken from the engine only when needed

    async def all(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        if params is None:
            if self._conn is None:
                self._conn = await self._engine.connect()
            return (await self._conn.execute(stmt)).all()
        found = self._compiled.get(id(stmt))
        if found is None:
            found = self._compiled[id(stmt)] = (Compiled(stmt, self._engine.dialect), stmt)
        compiled: Compiled = found[0]  # (the statement is kept beside it: its id stays unique)
        return await self._readers.fetch(compiled.sql, *compiled.args(params))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


class PgHotStore:
    def __init__(
        self, engine: AsyncEngine, refresh_keys: Callable[[], None] = lambda: None
    ) -> None:
        self._engine = engine
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._refresh_keys = refresh_keys
        dialect = engine.dialect
        self._states_sql = Compiled(STATES, dialect).sql
        self._versions_sql = Compiled(VERSIONS, dialect).sql
        self._bind_sql, self._audit_names = bind_sql(dialect)
        self._audit_columns = {
            c.name: c.type.bind_processor(dialect) for c in AuditEvent.__table__.c
        }
        # What is kept: organisation id -> URL id -> state, every state of an organisation read
        # at the data version noted for it.
        self._kept: dict[str, dict[str, UrlState]] = {}
        self._versions: dict[str, int] = {}
        self._count = 0
        self._watch: asyncpg.Connection | None = None  # LISTENs; runs the checks
        self._asking: list[Asking] = []
        self._checker: asyncio.Task[None] | None = None
        self._binder: asyncpg.Connection | None = None
        self._binds: list[PendingBind] = []
        self._binding: asyncio.Task[None] | None = None
        self._readers = Readers(lambda: self._connect(READING), READERS)
        self._compiled: dict[int, Any] = {}
        self._closed = False
        self.checks = 0  # round trips made by checks
        self.listening = 0  # listening connections opened

    # --- a URL's state ----------------------------------------------------------------------
    async def url_state(self, url_id: str, org_id: str) -> UrlState | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[UrlState | None] = loop.create_future()
        self._asking.append((url_id, org_id, waiter))
        if self._checker is None:  # (starts on the loop's next turn: this turn's fetches join)
            self._checker = loop.create_task(self._check_pending())
        return await waiter

    @property
    def kept(self) -> int:
        """How many URL states are kept."""
        return self._count

    async def _check_pending(self) -> None:
        try:
            while self._asking:
                batch, self._asking = self._asking, []
                try:
                    states = await self._check(batch)
                except BaseException as exc:
                    for _, _, waiter in batch:
                        if not waiter.done():  # (its request may have been cancelled)
                            waiter.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, _, waiter), state in zip(batch, states, strict=True):
                    if not waiter.done():
                        waiter.set_result(state)
        finally:
            self._checker = None

    async def _check(self, batch: list[Asking]) -> list[UrlState | None]:
        self._refresh_keys()
        try:
            return await self._check_on(await self._listening(), batch)
        except Exception:
            # Broken, hung or refused: nothing kept can be trusted now. Once more, anew.
            log.warning("the phone path's check failed; reconnecting", exc_info=True)
            self._forget_watch()
            return await self._check_on(await self._listening(), batch)

    async def _check_on(
        self, conn: asyncpg.Connection, batch: list[Asking]
    ) -> list[UrlState | None]:
        """Every asked URL's state as of now: kept ones once their organisations' versions are
        read again, the others read whole."""
        read: dict[str, UrlState | None] = {}
        checked: set[str] = set()  # organisations whose version this check has read
        orgs = {org_id for _, org_id, _ in batch}
        while True:
            misses = list(
                {u for u, o, _ in batch if u not in read and self.kept_state(o, u) is None}
            )
            if misses:
                rows = await conn.fetch(self._states_sql, misses, timeout=CHECK_TIMEOUT)
                self.checks += 1
                read.update(dict.fromkeys(misses))
                for row in rows:
                    state = UrlState(*row)
                    self._seen(state.org_id, state.data_version)
                    checked.add(state.org_id)
                    read[state.id] = state
            unchecked = orgs - checked
            if unchecked:
                rows = await conn.fetch(self._versions_sql, list(unchecked), timeout=CHECK_TIMEOUT)
                self.checks += 1
                versions = {org_id: version for org_id, version in rows}
                for org_id in unchecked:
                    self._seen(org_id, versions.get(org_id))
                checked |= unchecked
            # (a version that moved dropped what was kept for its organisation: read those now)
            if all(u in read or self.kept_state(o, u) is not None for u, o, _ in batch):
                break
        for fresh in read.values():
            if fresh is not None:
                self._keep(fresh)
        answers = []
        for url_id, org_id, _ in batch:
            found = read[url_id] if url_id in read else self.kept_state(org_id, url_id)
            answers.append(found if found is not None and found.org_id == org_id else None)
        return answers

    def kept_state(self, org_id: str, url_id: str) -> UrlState | None:
        """What is kept of a URL, if anything (as it was last checked)."""
        urls = self._kept.get(org_id)
        return None if urls is None else urls.get(url_id)

    def _seen(self, org_id: str, version: int | None) -> None:
        """The database says ``org_id``'s data version is ``version`` now (None: no such
        organisation): what was kept at another version goes."""
        if self._versions.get(org_id) != version:
            self._drop(org_id)
            if version is not None:
                self._versions[org_id] = version

    def _keep(self, state: UrlState) -> None:
        if state.data_version != self._versions.get(state.org_id):
            return  # read at a newer version than the one checked: the next check tells
        urls = self._kept.setdefault(state.org_id, {})
        if state.id not in urls:
            if self._count >= URL_STATES:
                self._kept.clear()
                self._count = 0
                urls = self._kept.setdefault(state.org_id, {})
            self._count += 1
        urls[state.id] = state

    def _drop(self, org_id: str) -> None:
        urls = self._kept.pop(org_id, None)
        if urls is not None:
            self._count -= len(urls)
        self._versions.pop(org_id, None)

    def _drop_all(self) -> None:
        self._kept.clear()
        self._versions.clear()
        self._count = 0

    # --- the listening connection -----------------------------------------------------------
    async def _connect(self, name: str) -> asyncpg.Connection:
        if self._closed:
            raise RuntimeError("the phone path's store is closed")
        return await asyncpg.connect(
            self._dsn, timeout=CHECK_TIMEOUT, server_settings={"application_name": name}
        )

    async def _listening(self) -> asyncpg.Connection:
        if self._watch is None or self._watch.is_closed():
            self._drop_all()  # (before LISTEN: whatever is read from now on is told of)
            conn = await self._connect(LISTENING)
            try:
                await conn.add_listener(CHANNEL, self._notified)
            except BaseException:
                conn.terminate()
                raise
            conn.add_termination_listener(self._lost)
            self._watch = conn
            self.listening += 1
        return self._watch

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            kind, org_id, url_id, mac = str(payload).split(" ")
        except ValueError:
            kind = ""
        if kind != "u":
            log.error("unexpected notification on %s: %r", CHANNEL, str(payload)[:200])
            return
        self._bound(org_id, url_id, mac or None)

    def _bound(self, org_id: str, url_id: str, mac: str | None) -> None:
        state = self.kept_state(org_id, url_id)
        if state is not None and state.mac != mac:
            self._kept[org_id][url_id] = replace(state, mac=mac)

    def _lost(self, conn: object) -> None:
        if conn is self._watch:
            log.warning("the phone path lost its notifications: %d URL states dropped", self._count)
            self._forget_watch()

    def _forget_watch(self) -> None:
        conn, self._watch = self._watch, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        self._drop_all()

    # --- binding ----------------------------------------------------------------------------
    async def bind(self, url_id: str, mac: str, event: dict[str, Any]) -> str | None:
        # As on SQLite: binds that arrive while others are being written go together.
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()
        self._binds.append(PendingBind(url_id, mac, event, done))
        if self._binding is None:
            self._binding = loop.create_task(self._bind_pending())
        return await done

    async def _bind_pending(self) -> None:
        try:
            while self._binds:
                batch, self._binds = self._binds, []
                try:
                    bound = await self._bind_all(batch)
                except BaseException as exc:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for item, mac in zip(batch, bound, strict=True):
                    self._bound(item.event["org_id"], item.url_id, mac)
                    if not item.done.done():
                        item.done.set_result(mac)
        finally:
            self._binding = None

    async def _bind_all(self, batch: list[PendingBind]) -> list[str | None]:
        """Each URL bound to its MAC if still unbound (with its audit event), in one
        transaction; the MAC each URL is bound to afterwards (None: no such URL)."""
        if self._binder is None or self._binder.is_closed():
            self._binder = await self._connect(BINDING)
        columns: dict[str, Any] = self._audit_columns
        audit = [
            [
                columns[name](item.event[name]) if columns[name] else item.event[name]
                for item in batch
            ]
            for name in self._audit_names
        ]
        rows = await self._binder.fetch(
            self._bind_sql,
            [item.url_id for item in batch],
            [item.mac for item in batch],
            *audit,
            timeout=CHECK_TIMEOUT,
        )
        macs: dict[str, str | None] = {url_id: mac for url_id, mac in rows}
        return [macs.get(item.url_id) for item in batch]

    # --- files' reads -----------------------------------------------------------------------
    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        reader = PgReader(self._engine, self._readers, self._compiled)
        try:
            yield reader
        finally:
            await reader.close()

    async def close(self) -> None:
        self._closed = True
        for task in (self._checker, self._binding):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        watch, self._watch = self._watch, None  # (so that its closing is not taken for a loss)
        for conn in (watch, self._binder):
            if conn is not None and not conn.is_closed():
                await conn.close(timeout=CHECK_TIMEOUT)
        self._binder = None
        await self._readers.close()
