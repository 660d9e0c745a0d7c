"""SIP extensions: the memory keys phones show, each dialling an extension routed to a target."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import Channel, Queue, SipExtension, SipUser, Team, User
from deskprov.errors import Conflict, Invalid
from deskprov.schemas import account as schema
from deskprov.services.base import Collection, Scope, changed, get_referenced, iso

TARGET_MODELS: dict[str, tuple[Any, str]] = {
    "channel": (Channel, "channel"),
    "agent": (User, "user"),
    "sip_user": (SipUser, "sip_user"),
    "team": (Team, "team"),
    "queue": (Queue, "queue"),
}


class SipExtensions(Collection[SipExtension, schema.SipExtensionView]):
    kind = "sip_extension"
    model = SipExtension
    searchable = ("extension", "label")
    sortable = ("extension", "label", "position")
    in_account = True
    needs_sip = True

    async def view(self, s: AsyncSession, row: SipExtension) -> schema.SipExtensionView:
        target: schema.PhoneNumberTargetView | schema.ResourceTargetView
        if row.target_type == "phone_number":
            target = schema.PhoneNumberTargetView(type="phone_number", value=row.target_ref)
        else:
            target = schema.ResourceTargetView(type=row.target_type, id=row.target_ref)
        return schema.SipExtensionView(
            id=row.id,
            extension=row.extension,
            label=row.label,
            subtype=row.subtype,
            scope=row.scope,
            type="memory_key",
            target=target,
            owner_id=row.owner_id,
            position=row.position,
            created_at=iso(row.created_at),
        )

    async def check_target(self, s: AsyncSession, scope: Scope, row: SipExtension) -> None:
        """The target exists in this organisation; a SIP user or agent is in this account."""
        if row.target_type == "phone_number":
            return
        model, kind = TARGET_MODELS[row.target_type]
        target = await get_referenced(
            s, model, scope.actor.org_id, row.target_ref, kind, "target.id"
        )
        # A key dials its own extension and the routing plan resolves it, so a team, queue or
        # channel needs no extension or number of its own; one that nobody can answer (no
        # members, no route) is explained by the route API.
        problem: str | None = None
        if row.target_type == "sip_user" and target.account_id != scope.account_id:
            problem = "the SIP user belongs to another provider account"
        elif row.target_type == "agent":
            owns = await s.scalar(
                select(SipUser.id)
                .where(SipUser.user_id == target.id, SipUser.account_id == scope.account_id)
                .limit(1)
            )
            if owns is None:
                problem = "the agent owns no SIP user in this provider account"
        if problem:
            raise Invalid(f"the target cannot be dialled: {problem}", fields={"target": problem})

    async def check(
        self, s: AsyncSession, scope: Scope, row: SipExtension, fields: set[str]
    ) -> None:
        if row.scope == "user" and row.owner_id is None:
            raise Invalid("a key with user scope needs an owner", fields={"owner_id": "required"})
        if row.scope == "provider_account" and row.owner_id is not None:
            raise Invalid(
                "a key with provider_account scope has no owner",
                fields={"owner_id": "only allowed when scope is user"},
            )
        if "owner_id" in fields and row.owner_id is not None:
            await get_referenced(s, User, scope.actor.org_id, row.owner_id, "user", "owner_id")
        if "target" in fields:
            await self.check_target(s, scope, row)
        if "extension" in fields:
            taken = await s.scalar(
                select(SipExtension.id).where(
                    SipExtension.account_id == row.account_id,
                    SipExtension.extension == row.extension,
                    SipExtension.id != row.id,
                )
            )
            if taken:
                raise Conflict(
                    "this extension is already used in this provider account",
                    fields={"extension": "already taken"},
                )

    @staticmethod
    def apply(row: SipExtension, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name == "target":
                if value is None:
                    raise Invalid("target cannot be null", fields={"target": "required"})
                row.target_type = value.type
                row.target_ref = value.value if value.type == "phone_number" else value.id
            elif value is None and name not in ("owner_id", "position"):
                raise Invalid(f"{name} cannot be null", fields={name: "required"})
            else:
                setattr(row, name, value)

    async def create(
        self, scope: Scope, body: schema.SipExtensionCreate
    ) -> schema.SipExtensionView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            row = self.new_row(scope)
            fields = {name: getattr(body, name) for name in type(body).model_fields}
            self.apply(row, fields)
            await self.check(s, scope, row, set(fields))
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, extension=row.extension)
            return await self.view(s, row)

    async def update(
        self, scope: Scope, row_id: str, body: schema.SipExtensionUpdate
    ) -> schema.SipExtensionView:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            self.apply(row, fields)
            # A scope change re-checks the owner rule; an owner change re-checks the owner.
            await self.check(s, scope, row, set(fields))
            await self.flush(s)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)
