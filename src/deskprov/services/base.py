"""What every management service shares: dependencies, scoping, paging, audit and the generic
read/delete half of a collection."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import DateTime, Select, String, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.engine import Database
from deskprov.db.models import AuditEvent, Organisation, OrgOwned, ProviderAccount
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Actor, Role
from deskprov.errors import (
    BadRequest,
    Conflict,
    Dependent,
    InUse,
    Invalid,
    NotFound,
    Unsupported,
)
from deskprov.providers.base import Provider, provider_for
from deskprov.registrar import sync as registrar
from deskprov.schemas.common import Page, PageQuery, View
from deskprov.security.keyring import Keys
from deskprov.security.secretbox import SecretBox
from deskprov.settings import Settings

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


async def every(interval: float, job: Callable[[], Awaitable[None]], what: str) -> None:
    """Run ``job`` every ``interval`` seconds until cancelled; a failure is logged and retried
    (the records written behind the phone requests)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:
            log.exception("could not record %s; will retry", what)


def utc_now() -> datetime:
    """The current time as naive UTC, the form stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if moment.microsecond
        else (moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


@dataclass(frozen=True)
class Deps:
    """Everything a service needs, built once by the app factory."""

    db: Database
    box: SecretBox
    settings: Settings
    clock: Clock
    http: Any  # aiohttp.ClientSession for provider APIs (typed loosely to keep aiohttp out)
    keyring: Keys


async def record(
    s: AsyncSession,
    deps: Deps,
    org_id: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the current transaction. ``detail`` must never hold a secret."""
    s.add(
        AuditEvent(
            id=new_id("audit_event"),
            created_at=deps.clock(),
            org_id=org_id,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail or {},
        )
    )


CHANGES = frozenset({"create", "update", "delete", "revoke"})


async def bump_data_version(s: AsyncSession, org_id: str) -> None:
    await s.execute(
        update(Organisation)
        .where(Organisation.id == org_id)
        .values(data_version=Organisation.data_version + 1)
    )


# --- paging ---------------------------------------------------------------------------------


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# What ``encode_cursor`` writes: a naive UTC time and one of our ids (a cursor is client input,
# and PostgreSQL refuses a time zone offset beside naive times, NUL and lone surrogates: 500s).
_CURSOR_ID = re.compile(r"[a-z]{2,3}_[a-z2-7]{16}")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, row_id = json.loads(raw)
        moment = datetime.fromisoformat(moment_text)
    except (ValueError, TypeError, binascii.Error):
        moment, row_id = None, None
    if moment is None or moment.tzinfo is not None or not _CURSOR_ID.fullmatch(str(row_id)):
        raise BadRequest("the cursor is malformed", fields={"cursor": "malformed"})
    return moment, str(row_id)


def nulls_first(column: Any) -> Any:
    """A sort key with no nulls (keyset paging compares values): empty text sorts first."""
    return (
        func.coalesce(column, "") if column.nullable and isinstance(column.type, String) else column
    )


def _sorted_cursor(sort: str, value: Any, row_id: str) -> str:
    """A cursor of a sorted list: the sort it belongs to, the last row's sort value and id."""
    raw = json.dumps([sort, value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_sorted(cursor: str, sort: str, column: Any) -> tuple[Any, str]:
    """The last row's sort value and id, checked like ``decode_cursor`` (a time is naive UTC;
    text holds no NUL or lone surrogate, which PostgreSQL would refuse mid-query)."""
    malformed = BadRequest("the cursor is malformed", fields={"cursor": "malformed"})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, row_id = json.loads(raw)
        if isinstance(value, str):
            value.encode()  # (a lone surrogate raises UnicodeEncodeError, a ValueError)
    except (ValueError, TypeError, binascii.Error):
        raise malformed from None
    if made_for != sort:
        raise BadRequest(
            "the cursor belongs to another sort order",
            fields={"cursor": "from a list sorted otherwise"},
        )
    if not isinstance(row_id, str) or not _CURSOR_ID.fullmatch(row_id):
        raise malformed
    if isinstance(column.type, DateTime):
        try:
            moment = datetime.fromisoformat(value)
        except (ValueError, TypeError):
            raise malformed from None
        if moment.tzinfo is not None:
            raise malformed
        return moment, row_id
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise malformed
    if isinstance(value, str) and "\x00" in value:
        raise malformed
    return value, row_id


M = TypeVar("M", bound=OrgOwned)
V = TypeVar("V", bound=View)


async def fetch_page(
    s: AsyncSession, stmt: Select[Any], model: type[M], page: PageQuery
) -> tuple[Sequence[M], str | None]:
    """Rows in creation order (then id) after ``page.cursor``, and the next cursor."""
    if page.cursor:
        moment, row_id = decode_cursor(page.cursor)
        stmt = stmt.where(
            or_(model.created_at > moment, and_(model.created_at == moment, model.id > row_id))
        )
    stmt = stmt.order_by(model.created_at, model.id).limit(page.limit + 1)
    rows: list[M] = list((await s.scalars(stmt)).all())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id)


async def fetch_sorted_page(
    s: AsyncSession,
    stmt: Select[Any],
    model: type[M],
    page: PageQuery,
    sort: str,
    column: Any,
) -> tuple[Sequence[M], str | None]:
    """Rows ordered by ``column`` (descending when ``sort`` starts with ``-``), then id, after
    ``page.cursor`` (keyset paging: a row added or removed meanwhile moves no other row)."""
    descending = sort.startswith("-")
    keyed = stmt.add_columns(column.label("sort_value"))
    if page.cursor:
        value, row_id = _decode_sorted(page.cursor, sort, column)
        after = (column < value) if descending else (column > value)
        beyond = (model.id < row_id) if descending else (model.id > row_id)
        keyed = keyed.where(or_(after, and_(column == value, beyond)))
    order = (column.desc(), model.id.desc()) if descending else (column, model.id)
    found = list((await s.execute(keyed.order_by(*order).limit(page.limit + 1))).all())
    rows: list[M] = [r[0] for r in found[: page.limit]]
    if len(found) <= page.limit:
        return rows, None
    last = found[page.limit - 1]
    value = last[1].isoformat() if isinstance(last[1], datetime) else last[1]
    return rows, _sorted_cursor(sort, value, last[0].id)


# --- scoping --------------------------------------------------------------------------------


async def get_in_org(s: AsyncSession, model: type[M], org_id: str, row_id: str, kind: str) -> M:
    row = await s.scalar(select(model).where(model.id == row_id, model.org_id == org_id))
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {row_id}")
    return row


async def get_referenced(
    s: AsyncSession, model: type[M], org_id: str, row_id: str, kind: str, field: str
) -> M:
    """A row named inside a request body; another organisation's id is not found, too."""
    row = await s.scalar(select(model).where(model.id == row_id, model.org_id == org_id))
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {row_id}", fields={field: "not found"})
    return row


async def ids_of(s: AsyncSession, model: type[OrgOwned], *where: Any) -> list[str]:
    return list((await s.scalars(select(model.id).where(*where).order_by(model.id))).all())


@dataclass(frozen=True)
class Scope:
    """Where a request acts: an organisation, and for account resources one provider account."""

    actor: Actor
    account_id: str | None = None


class Collection(Generic[M, V]):
    """List, read and delete for one resource type; subclasses add create and update.

    ``in_account`` resources live under ``/provider-accounts/{pa}``; ``needs_sip`` ones exist only
    for providers that host SIP.
    """

    kind: ClassVar[str]
    model: ClassVar[type[Any]]
    in_account: ClassVar[bool] = False
    needs_sip: ClassVar[bool] = False
    read_role: ClassVar[Role] = Role.viewer
    write_role: ClassVar[Role] = Role.admin
    # What a list's query may ask beyond paging (the API's ?q=, ?sort= and exact filters):
    searchable: ClassVar[tuple[str, ...]] = ()
    sortable: ClassVar[tuple[str, ...]] = ()
    filters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # hooks ---------------------------------------------------------------------------------
    async def view(self, s: AsyncSession, row: M) -> V:
        raise NotImplementedError

    async def dependents(self, s: AsyncSession, row: M) -> list[Dependent]:
        return []

    async def release(self, s: AsyncSession, row: M) -> None:
        """Undo what the row holds elsewhere, just before it is deleted (nothing by default)."""

    def redact(self, scope: Scope, view: V) -> V:
        """What this caller may see of a read (everything, unless a subclass says otherwise)."""
        return view

    async def decorate(self, scope: Scope, views: list[V]) -> list[V]:
        """What a read adds from outside the database (another service), after its transaction
        has ended (nothing by default)."""
        return views

    # shared steps --------------------------------------------------------------------------
    async def account(self, s: AsyncSession, scope: Scope) -> ProviderAccount:
        """The scope's provider account, checked against the organisation and provider."""
        assert scope.account_id is not None
        account = await get_in_org(
            s, ProviderAccount, scope.actor.org_id, scope.account_id, "provider_account"
        )
        if self.needs_sip and not provider_for(account.provider).supports_sip:
            raise Unsupported(
                f"{account.provider} accounts do not support SIP, so they have no "
                f"{self.kind.replace('_', ' ')}s"
            )
        return account

    def provider(self, account: ProviderAccount) -> Provider:
        return provider_for(account.provider)

    def scoped(self, scope: Scope) -> list[Any]:
        where: list[Any] = [self.model.org_id == scope.actor.org_id]
        if self.in_account:
            where.append(self.model.account_id == scope.account_id)
        return where

    async def load(self, s: AsyncSession, scope: Scope, row_id: str) -> M:
        if self.in_account:
            await self.account(s, scope)
        row: M | None = await s.scalar(
            select(self.model).where(self.model.id == row_id, *self.scoped(scope))
        )
        if row is None:
            raise NotFound(f"no {self.kind.replace('_', ' ')} {row_id}")
        return row

    def new_row(self, scope: Scope, row_id: str | None = None, **values: Any) -> M:
        extra: dict[str, Any] = {"account_id": scope.account_id} if self.in_account else {}
        row: M = self.model(
            id=row_id or new_id(self.kind),
            created_at=self.deps.clock(),
            org_id=scope.actor.org_id,
            **extra,
            **values,
        )
        return row

    async def audit(
        self, s: AsyncSession, scope: Scope, action: str, row_id: str | None, **detail: Any
    ) -> None:
        """Record the change and bump the organisation's data version (configs depend on it);
        the registrar tables Kamailio reads follow the change in the same transaction."""
        if action in CHANGES:
            await bump_data_version(s, scope.actor.org_id)
            await registrar.follow(
                s,
                self.deps.box,
                self.deps.settings.whippy_sip_suffix,
                kind=self.kind,
                action=action,
                org_id=scope.actor.org_id,
                account_id=scope.account_id,
                row_id=row_id,
                fields=detail.get("fields"),
            )
        await record(
            s,
            self.deps,
            scope.actor.org_id,
            scope.actor.label,
            f"{self.kind}.{action}",
            self.kind,
            row_id,
            detail,
        )

    async def flush(self, s: AsyncSession) -> None:
        """Flush, turning a unique-constraint race into a clean ``409 conflict``."""
        try:
            await s.flush()
        except IntegrityError as exc:
            raise Conflict(f"this {self.kind.replace('_', ' ')} conflicts with another") from exc

    # generic operations --------------------------------------------------------------------
    def searched(self, text: str) -> list[Any]:
        """What ``?q=`` matches: any ``searchable`` column containing it, in any case."""
        table = self.model.__table__
        return [table.c[name].icontains(text, autoescape=True) for name in self.searchable]

    def sort_columns(self) -> dict[str, Any]:
        """What ``?sort=`` may name: a column expression per name (the ``sortable`` columns by
        default; a subclass may sort by something joined, such as an owner's name)."""
        table = self.model.__table__
        return {name: nulls_first(table.c[name]) for name in self.sortable}

    def filtered(self, scope: Scope, query: PageQuery) -> list[Any]:
        """The conditions of a list's query beyond paging: its search and exact filters."""
        where: list[Any] = []
        text = getattr(query, "q", None)
        if text:
            matches = self.searched(text)
            if not matches:
                raise Invalid("this list cannot be searched", fields={"q": "not searchable"})
            where.append(or_(*matches))
        for name in self.filters:
            value = getattr(query, name, None)
            if value is not None:
                where.append(self.model.__table__.c[name] == value)
        return where

    async def list(self, scope: Scope, page: PageQuery) -> Page[V]:
        scope.actor.require(self.read_role)
        sort = getattr(page, "sort", None)
        columns = self.sort_columns()
        if sort is not None and sort.removeprefix("-") not in columns:
            raise Invalid(
                "this list cannot be sorted so",
                fields={"sort": "one of " + ", ".join(sorted(columns)) + " (- first: descending)"},
            )
        async with self.deps.db.read() as s:
            if self.in_account:
                await self.account(s, scope)
            stmt = select(self.model).where(*self.scoped(scope), *self.filtered(scope, page))
            if sort is None:
                rows, next_cursor = await fetch_page(s, stmt, self.model, page)
            else:
                column = columns[sort.removeprefix("-")]
                rows, next_cursor = await fetch_sorted_page(s, stmt, self.model, page, sort, column)
            items = [self.redact(scope, await self.view(s, r)) for r in rows]
        return Page[Any](items=await self.decorate(scope, items), next_cursor=next_cursor)

    async def get(self, scope: Scope, row_id: str) -> V:
        scope.actor.require(self.read_role)
        async with self.deps.db.read() as s:
            view = self.redact(scope, await self.view(s, await self.load(s, scope, row_id)))
        (decorated,) = await self.decorate(scope, [view])
        return decorated

    async def deletable(self, s: AsyncSession, scope: Scope, row_id: str) -> M:
        """The row, unless something still uses it (``in_use``)."""
        row = await self.load(s, scope, row_id)
        dependents = await self.dependents(s, row)
        if dependents:
            raise InUse(
                f"this {self.kind.replace('_', ' ')} is still used by "
                f"{len(dependents)} other resource(s)",
                dependents,
            )
        return row

    async def delete(self, scope: Scope, row_id: str) -> None:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            row = await self.deletable(s, scope, row_id)
            await self.release(s, row)
            await s.delete(row)
            await self.audit(s, scope, "delete", row_id)


class SimpleCollection(Collection[Any, Any]):
    """A resource whose create and update copy the body's fields onto the row (``columns`` may
    map them first; ``after_write`` writes what lives in other tables)."""

    view_type: ClassVar[type[Any]]

    async def view(self, s: AsyncSession, row: Any) -> Any:
        fields = {n: getattr(row, n) for n in self.view_type.model_fields if n != "created_at"}
        return self.view_type(**fields, created_at=iso(row.created_at))

    async def check(self, s: AsyncSession, scope: Scope, row: Any, fields: set[str]) -> None:
        """Rules beyond the schema (uniqueness); raise to refuse."""

    def columns(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The row's column values for a body's fields (the fields themselves by default)."""
        return fields

    async def after_write(
        self, s: AsyncSession, scope: Scope, row: Any, fields: dict[str, Any]
    ) -> None:
        """Write what the body holds beyond the row, once the row exists (nothing by default)."""

    async def create(self, scope: Scope, body: Any) -> Any:
        scope.actor.require(self.write_role)
        fields = {name: getattr(body, name) for name in type(body).model_fields}
        async with self.deps.db.write() as s:
            if self.in_account:
                await self.account(s, scope)
            row = self.new_row(scope, **self.columns(fields))
            await self.check(s, scope, row, set(fields))
            s.add(row)
            await self.flush(s)
            await self.after_write(s, scope, row, fields)
            await self.audit(s, scope, "create", row.id)
            return await self.view(s, row)

    async def update(self, scope: Scope, row_id: str, body: Any) -> Any:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            for name, value in self.columns(fields).items():
                if value is None and not self.model.__table__.c[name].nullable:
                    raise Invalid("a required field cannot be null", fields={name: "required"})
                setattr(row, name, value)
            await self.check(s, scope, row, set(fields))
            await self.flush(s)
            await self.after_write(s, scope, row, fields)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)


def changed(body: Any) -> dict[str, Any]:
    """The fields a PATCH body actually sent (an explicit null included)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


def dependents_of(kind: str, ids: Sequence[str]) -> list[Dependent]:
    return [Dependent(type=kind, id=i) for i in ids]
