"""Organisation-level resources: organisations, API keys, users, channels (and where calls to
their numbers go), teams and queues (and their members)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    ApiKey,
    Channel,
    Organisation,
    ProvisioningUrl,
    Queue,
    QueueMember,
    SipExtension,
    SipUser,
    Team,
    TeamMember,
    User,
)
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Actor, Role
from deskprov.errors import Conflict, Dependent, Invalid, NotFound, Unauthorized
from deskprov.schemas import organisation as schema
from deskprov.security import apikeys
from deskprov.services.base import (
    Collection,
    Deps,
    Scope,
    SimpleCollection,
    changed,
    dependents_of,
    get_referenced,
    ids_of,
    iso,
    iso_or_none,
    record,
)


@dataclass(frozen=True)
class NewOrganisation:
    organisation_id: str
    api_key: str


def organisation_name(name: str) -> str:
    """``name`` as an organisation's name (the API's rules for names), or ``Invalid``."""
    try:
        return schema.OrganisationCreate(name=name.strip()).name
    except ValidationError as exc:
        error = exc.errors()[0]
        why = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] in ("too_short", "too_long", "string_too_short", "string_too_long"):
            why = "must be 1 to 100 characters"
        raise Invalid(f"the organisation name is refused: {why}", fields={"name": why}) from None


async def create_organisation(deps: Deps, name: str) -> NewOrganisation:
    """An organisation with its first admin API key (returned once, stored hashed)."""
    name = organisation_name(name)
    key = apikeys.new_api_key()
    now = deps.clock()
    async with deps.db.write() as s:
        org = Organisation(id=new_id("organisation"), created_at=now, name=name)
        s.add(org)
        await s.flush()  # no ORM relationships: insert the parent before its key
        key_row = ApiKey(
            id=new_id("api_key"),
            created_at=now,
            org_id=org.id,
            name="first admin key",
            role="admin",
            digest=apikeys.digest(key),
        )
        s.add(key_row)
        await s.flush()
        await record(s, deps, org.id, "cli", "organisation.create", "organisation", org.id)
    return NewOrganisation(organisation_id=org.id, api_key=key)


async def issue_api_key(deps: Deps, org_id: str, role: str, name: str) -> schema.ApiKeyCreated:
    """A new API key for an organisation, given from the command line (for a lost admin key:
    whoever runs the command can read the database and the key file anyway)."""
    async with deps.db.read() as s:
        if await s.get(Organisation, org_id) is None:
            raise NotFound(f"there is no organisation {org_id}")
    actor = Actor(org_id=org_id, key_id="cli", role=Role.admin)
    body = schema.ApiKeyCreate.model_validate({"name": name, "role": role})
    return await ApiKeys(deps).create(Scope(actor), body)


async def authenticate(deps: Deps, key: str) -> Actor:
    """The actor behind an API key; ``Unauthorized`` when the key is unknown."""
    if not apikeys.looks_like_key(key):
        raise Unauthorized("the API key is not valid")
    async with deps.db.read() as s:
        row = await s.scalar(select(ApiKey).where(ApiKey.digest == apikeys.digest(key)))
    if row is None:
        raise Unauthorized("the API key is not valid")
    return Actor(org_id=row.org_id, key_id=row.id, role=Role.parse(row.role))


class ApiKeys(Collection[ApiKey, schema.ApiKeyView]):
    kind = "api_key"
    model = ApiKey
    searchable = ("name",)
    sortable = ("name", "role")
    read_role = Role.admin

    async def view(self, s: AsyncSession, row: ApiKey) -> schema.ApiKeyView:
        return schema.ApiKeyView(
            id=row.id,
            name=row.name,
            role=row.role,
            created_at=iso(row.created_at),
            last_used_at=iso_or_none(row.last_used_at),
        )

    async def create(self, scope: Scope, body: schema.ApiKeyCreate) -> schema.ApiKeyCreated:
        scope.actor.require(self.write_role)
        key = apikeys.new_api_key()
        async with self.deps.db.write() as s:
            row = self.new_row(scope, name=body.name, role=body.role, digest=apikeys.digest(key))
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, role=body.role)
            view = await self.view(s, row)
        return schema.ApiKeyCreated(**view.model_dump(), key=key)

    async def update(
        self, scope: Scope, row_id: str, body: schema.ApiKeyUpdate
    ) -> schema.ApiKeyView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            if body.name is not None:
                row.name = body.name
            await self.audit(s, scope, "update", row.id, fields=sorted(changed(body)))
            return await self.view(s, row)

    async def dependents(self, s: AsyncSession, row: ApiKey) -> list[Dependent]:
        if row.role == "admin":
            admins = await s.scalar(
                select(func.count()).where(ApiKey.org_id == row.org_id, ApiKey.role == "admin")
            )
            if admins == 1:
                raise Conflict("the organisation's last admin key cannot be deleted")
        return []


class Users(SimpleCollection):
    kind = "user"
    model = User
    searchable = ("name", "email")
    sortable = ("name", "email")

    def filtered(self, scope: Scope, query: Any) -> list[Any]:
        where = super().filtered(scope, query)
        email = getattr(query, "email", None)
        if email is not None:
            where.append(func.lower(User.email) == email.lower())
        return where

    view_type = schema.UserView

    async def check(self, s: AsyncSession, scope: Scope, row: Any, fields: set[str]) -> None:
        if "email" in fields:
            taken = await s.scalar(
                select(User.id).where(
                    User.org_id == row.org_id, User.email == row.email, User.id != row.id
                )
            )
            if taken:
                raise Conflict("a user with this email exists", fields={"email": "already taken"})

    async def dependents(self, s: AsyncSession, row: Any) -> list[Dependent]:
        return [
            *dependents_of("sip_user", await ids_of(s, SipUser, SipUser.user_id == row.id)),
            *dependents_of(
                "sip_extension",
                await ids_of(
                    s,
                    SipExtension,
                    SipExtension.org_id == row.org_id,
                    (SipExtension.owner_id == row.id)
                    | ((SipExtension.target_type == "agent") & (SipExtension.target_ref == row.id)),
                ),
            ),
            *dependents_of(
                "provisioning_url",
                await ids_of(s, ProvisioningUrl, ProvisioningUrl.user_id == row.id),
            ),
            *await channels_routing_to(s, "agent", row.id),
        ]

    async def release(self, s: AsyncSession, row: Any) -> None:
        """A deleted user leaves every team and queue."""
        for model in (TeamMember, QueueMember):
            await s.execute(delete(model).where(model.user_id == row.id))


async def extensions_targeting(s: AsyncSession, target_type: str, row_id: str) -> list[Dependent]:
    return dependents_of(
        "sip_extension",
        await ids_of(
            s,
            SipExtension,
            SipExtension.target_type == target_type,
            SipExtension.target_ref == row_id,
        ),
    )


async def channels_routing_to(s: AsyncSession, route_type: str, row_id: str) -> list[Dependent]:
    return dependents_of(
        "channel",
        await ids_of(s, Channel, Channel.route_type == route_type, Channel.route_ref == row_id),
    )


ROUTE_MODELS: dict[str, tuple[Any, str]] = {
    "sip_user": (SipUser, "sip_user"),
    "agent": (User, "user"),
    "team": (Team, "team"),
    "queue": (Queue, "queue"),
}


class Channels(SimpleCollection):
    kind = "channel"
    model = Channel
    searchable = ("name", "phone_number")
    sortable = ("name", "phone_number")
    view_type = schema.ChannelView

    async def view(self, s: AsyncSession, row: Any) -> schema.ChannelView:
        route = None
        if row.route_type is not None:
            route = schema.ChannelRouteView(type=row.route_type, id=row.route_ref)
        return schema.ChannelView(
            id=row.id,
            name=row.name,
            phone_number=row.phone_number,
            route=route,
            created_at=iso(row.created_at),
        )

    def columns(self, fields: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in fields.items() if k != "route"}
        if "route" in fields:
            route = fields["route"]
            values["route_type"] = route.type if route else None
            values["route_ref"] = route.id if route else None
        return values

    async def check(self, s: AsyncSession, scope: Scope, row: Any, fields: set[str]) -> None:
        """A route names something of this organisation."""
        if "route" in fields and row.route_type is not None:
            model, kind = ROUTE_MODELS[row.route_type]
            await get_referenced(s, model, scope.actor.org_id, row.route_ref, kind, "route.id")

    async def dependents(self, s: AsyncSession, row: Any) -> list[Dependent]:
        return [
            *dependents_of("sip_user", await ids_of(s, SipUser, SipUser.channel_id == row.id)),
            *await extensions_targeting(s, "channel", row.id),
        ]


class Groups(SimpleCollection):
    """Teams and queues: a name, an extension, and members (users, in the order given)."""

    member_model: ClassVar[Any]  # TeamMember or QueueMember
    searchable = ("name", "extension")
    sortable = ("name", "extension")
    group_key: ClassVar[str]  # the member table's column naming the group

    def _group_column(self) -> Any:
        return getattr(self.member_model, self.group_key)

    async def member_ids(self, s: AsyncSession, group_id: str) -> list[str]:
        rows = await s.scalars(
            select(self.member_model.user_id)
            .where(self._group_column() == group_id)
            .order_by(self.member_model.position)
        )
        return list(rows.all())

    async def view(self, s: AsyncSession, row: Any) -> Any:
        names = [n for n in self.view_type.model_fields if n not in ("created_at", "member_ids")]
        return self.view_type(
            **{n: getattr(row, n) for n in names},
            member_ids=await self.member_ids(s, row.id),
            created_at=iso(row.created_at),
        )

    def columns(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if k != "member_ids"}

    async def after_write(
        self, s: AsyncSession, scope: Scope, row: Any, fields: dict[str, Any]
    ) -> None:
        """The members, replaced as a whole: each once, each a user of this organisation."""
        if "member_ids" not in fields:
            return
        member_ids: list[str] | None = fields["member_ids"]
        if member_ids is None:
            raise Invalid("member_ids cannot be null", fields={"member_ids": "required"})
        twice = {
            f"member_ids.{i}": "listed twice"
            for i, user_id in enumerate(member_ids)
            if user_id in member_ids[:i]
        }
        if twice:
            raise Invalid("a member is listed twice", fields=twice)
        found = set(
            await ids_of(s, User, User.org_id == scope.actor.org_id, User.id.in_(member_ids))
        )
        missing = {
            f"member_ids.{i}": "not found" for i, u in enumerate(member_ids) if u not in found
        }
        if missing:
            raise NotFound("some members are not users of this organisation", fields=missing)
        await s.execute(delete(self.member_model).where(self._group_column() == row.id))
        s.add_all(
            self.member_model(**{self.group_key: row.id}, user_id=user_id, position=i)
            for i, user_id in enumerate(member_ids)
        )
        await self.flush(s)

    async def dependents(self, s: AsyncSession, row: Any) -> list[Dependent]:
        return [
            *await extensions_targeting(s, self.kind, row.id),
            *await channels_routing_to(s, self.kind, row.id),
        ]

    async def release(self, s: AsyncSession, row: Any) -> None:
        await s.execute(delete(self.member_model).where(self._group_column() == row.id))


class Teams(Groups):
    kind = "team"
    model = Team
    view_type = schema.GroupView
    member_model = TeamMember
    group_key = "team_id"


class Queues(Groups):
    kind = "queue"
    model = Queue
    view_type = schema.QueueView
    member_model = QueueMember
    group_key = "queue_id"
