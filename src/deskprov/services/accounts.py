"""Provider accounts and their SIP side: domains, credential lists, attachments, SIP users."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    Channel,
    CredentialAttachment,
    CredentialList,
    InventoryNumber,
    ProviderAccount,
    ProviderPhone,
    ProvisioningUrl,
    SipDomain,
    SipExtension,
    SipUser,
    User,
)
from deskprov.domain import rules
from deskprov.domain.roles import Role
from deskprov.errors import Conflict, Dependent, Invalid
from deskprov.providers.base import provider_for
from deskprov.schemas import account as schema
from deskprov.schemas import organisation as org_schema
from deskprov.security.secretbox import credentials_binding, sip_password_binding
from deskprov.services.base import (
    Collection,
    Scope,
    SimpleCollection,
    changed,
    dependents_of,
    get_referenced,
    ids_of,
    iso,
)
from deskprov.services.organisation import channels_routing_to, extensions_targeting


class ProviderAccounts(Collection[ProviderAccount, org_schema.ProviderAccountView]):
    kind = "provider_account"
    model = ProviderAccount

    async def view(self, s: AsyncSession, row: ProviderAccount) -> org_schema.ProviderAccountView:
        return org_schema.ProviderAccountView(
            id=row.id,
            name=row.name,
            provider=row.provider,
            has_credentials=row.credentials_sealed is not None,
            created_at=iso(row.created_at),
        )

    def seal_credentials(self, row: ProviderAccount, credentials: dict[str, Any] | None) -> None:
        if credentials is None:
            row.credentials_sealed = None
            return
        problems = provider_for(row.provider).credential_problems(credentials)
        if problems:
            raise Invalid("the credentials are not usable for this provider", fields=problems)
        row.credentials_sealed = self.deps.box.seal(
            json.dumps(credentials, sort_keys=True), binding=credentials_binding(row.id)
        )

    def credentials(self, row: ProviderAccount) -> dict[str, str] | None:
        if row.credentials_sealed is None:
            return None
        plain = self.deps.box.open(row.credentials_sealed, binding=credentials_binding(row.id))
        loaded: dict[str, str] = json.loads(plain)
        return loaded

    async def create(
        self, scope: Scope, body: org_schema.ProviderAccountCreate
    ) -> org_schema.ProviderAccountView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            row = self.new_row(scope, name=body.name, provider=body.provider)
            if body.credentials is None and provider_for(body.provider).required_credentials:
                raise Invalid(
                    f"{body.provider} accounts need credentials",
                    fields={"credentials": "required"},
                )
            self.seal_credentials(row, body.credentials)
            s.add(row)
            await self.flush(s)
            await self.audit(
                s,
                scope,
                "create",
                row.id,
                provider=body.provider,
                credentials=body.credentials is not None,
            )
            return await self.view(s, row)

    async def update(
        self, scope: Scope, row_id: str, body: org_schema.ProviderAccountUpdate
    ) -> org_schema.ProviderAccountView:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            if "name" in fields:
                if body.name is None:
                    raise Invalid("name cannot be null", fields={"name": "required"})
                row.name = body.name
            if "credentials" in fields:
                if body.credentials is None and provider_for(row.provider).required_credentials:
                    raise Invalid(
                        f"{row.provider} accounts need credentials",
                        fields={"credentials": "required"},
                    )
                self.seal_credentials(row, body.credentials)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

    async def dependents(self, s: AsyncSession, row: ProviderAccount) -> list[Dependent]:
        found: list[Dependent] = []
        for kind, model in (
            ("sip_domain", SipDomain),
            ("credential_list", CredentialList),
            ("credential_attachment", CredentialAttachment),
            ("sip_user", SipUser),
            ("sip_extension", SipExtension),
            ("provider_phone", ProviderPhone),
            ("provisioning_url", ProvisioningUrl),
            ("inventory_number", InventoryNumber),
        ):
            found += dependents_of(kind, await ids_of(s, model, model.account_id == row.id))
        return found


class SipDomains(SimpleCollection):
    kind = "sip_domain"
    model = SipDomain
    in_account = True
    needs_sip = True

    async def view(self, s: AsyncSession, row: SipDomain) -> schema.SipDomainView:
        return schema.SipDomainView(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            domain=self.domain(row),
            created_at=iso(row.created_at),
        )

    def domain(self, row: SipDomain) -> str:
        return provider_for(row.provider).domain_for(
            row.prefix, self.deps.settings.whippy_sip_suffix
        )

    async def create(self, scope: Scope, body: schema.SipDomainCreate) -> schema.SipDomainView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            account = await self.account(s, scope)
            taken = await s.scalar(
                select(SipDomain.id).where(
                    SipDomain.provider == account.provider, SipDomain.prefix == body.prefix
                )
            )
            if taken:
                raise Conflict(
                    "this prefix is already taken for the provider",
                    fields={"prefix": "already taken"},
                )
            row = self.new_row(scope, name=body.name, prefix=body.prefix, provider=account.provider)
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, prefix=body.prefix)
            return await self.view(s, row)

    async def dependents(self, s: AsyncSession, row: SipDomain) -> list[Dependent]:
        return dependents_of(
            "credential_attachment",
            await ids_of(s, CredentialAttachment, CredentialAttachment.sip_domain_id == row.id),
        )


class CredentialLists(SimpleCollection):
    kind = "credential_list"
    model = CredentialList
    in_account = True
    needs_sip = True

    async def view(self, s: AsyncSession, row: CredentialList) -> schema.CredentialListView:
        users = await s.scalar(select(func.count()).where(SipUser.credential_list_id == row.id))
        return schema.CredentialListView(
            id=row.id,
            name=row.name,
            sip_user_count=int(users or 0),
            created_at=iso(row.created_at),
        )

    async def dependents(self, s: AsyncSession, row: CredentialList) -> list[Dependent]:
        return [
            *dependents_of(
                "sip_user", await ids_of(s, SipUser, SipUser.credential_list_id == row.id)
            ),
            *dependents_of(
                "credential_attachment",
                await ids_of(
                    s, CredentialAttachment, CredentialAttachment.credential_list_id == row.id
                ),
            ),
        ]


async def in_account(
    s: AsyncSession, model: Any, scope: Scope, row_id: str, kind: str, field: str
) -> Any:
    """A row named in a body that must belong to the scope's provider account."""
    row = await get_referenced(s, model, scope.actor.org_id, row_id, kind, field)
    if row.account_id != scope.account_id:
        raise Invalid(
            f"the {kind.replace('_', ' ')} belongs to another provider account",
            fields={field: "belongs to another provider account"},
        )
    return row


class CredentialAttachments(SimpleCollection):
    kind = "credential_attachment"
    model = CredentialAttachment
    in_account = True
    needs_sip = True

    async def view(
        self, s: AsyncSession, row: CredentialAttachment
    ) -> schema.CredentialAttachmentView:
        return schema.CredentialAttachmentView(
            id=row.id,
            sip_domain_id=row.sip_domain_id,
            credential_list_id=row.credential_list_id,
            created_at=iso(row.created_at),
        )

    async def check(
        self, s: AsyncSession, scope: Scope, row: CredentialAttachment, fields: set[str]
    ) -> None:
        await in_account(s, SipDomain, scope, row.sip_domain_id, "sip_domain", "sip_domain_id")
        await in_account(
            s,
            CredentialList,
            scope,
            row.credential_list_id,
            "credential_list",
            "credential_list_id",
        )
        taken = await s.scalar(
            select(CredentialAttachment.id).where(
                CredentialAttachment.sip_domain_id == row.sip_domain_id,
                CredentialAttachment.credential_list_id == row.credential_list_id,
                CredentialAttachment.id != row.id,
            )
        )
        if taken:
            raise Conflict(
                "this credential list is already attached to this domain",
                fields={"credential_list_id": "already attached to this domain"},
            )


class SipUsers(Collection[SipUser, schema.SipUserView]):
    kind = "sip_user"
    model = SipUser
    in_account = True
    needs_sip = True

    async def domains(self, s: AsyncSession, credential_list_id: str) -> list[str]:
        """Full names of the domains the list is attached to, in attachment order."""
        rows = await s.scalars(
            select(SipDomain)
            .join(CredentialAttachment, CredentialAttachment.sip_domain_id == SipDomain.id)
            .where(CredentialAttachment.credential_list_id == credential_list_id)
            .order_by(CredentialAttachment.created_at, CredentialAttachment.id)
        )
        suffix = self.deps.settings.whippy_sip_suffix
        return [provider_for(d.provider).domain_for(d.prefix, suffix) for d in rows]

    async def view(self, s: AsyncSession, row: SipUser) -> schema.SipUserView:
        domains = await self.domains(s, row.credential_list_id)
        return schema.SipUserView(
            id=row.id,
            username=row.username,
            credential_list_id=row.credential_list_id,
            channel_id=row.channel_id,
            user_id=row.user_id,
            domains=domains,
            sip_uri=f"sip:{row.username}@{domains[0]}" if domains else None,
            created_at=iso(row.created_at),
        )

    def seal(self, row: SipUser, password: str) -> None:
        problem = rules.password_problem(password)
        if problem:
            raise Invalid("the password is too weak", fields={"password": problem})
        row.password_sealed = self.deps.box.seal(password, binding=sip_password_binding(row.id))

    def password(self, row: SipUser) -> str:
        return self.deps.box.open(row.password_sealed, binding=sip_password_binding(row.id))

    async def check(self, s: AsyncSession, scope: Scope, row: SipUser, fields: set[str]) -> None:
        if "credential_list_id" in fields:
            await in_account(
                s,
                CredentialList,
                scope,
                row.credential_list_id,
                "credential_list",
                "credential_list_id",
            )
        if "channel_id" in fields and row.channel_id is not None:
            await get_referenced(
                s, Channel, scope.actor.org_id, row.channel_id, "channel", "channel_id"
            )
        if "user_id" in fields and row.user_id is not None:
            await get_referenced(s, User, scope.actor.org_id, row.user_id, "user", "user_id")
        if "username" in fields:
            taken = await s.scalar(
                select(SipUser.id).where(
                    SipUser.account_id == row.account_id,
                    SipUser.username == row.username,
                    SipUser.id != row.id,
                )
            )
            if taken:
                raise Conflict(
                    "a SIP user with this username exists in this provider account",
                    fields={"username": "already taken"},
                )

    async def create(self, scope: Scope, body: schema.SipUserCreate) -> schema.SipUserView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            row = self.new_row(
                scope,
                username=body.username,
                credential_list_id=body.credential_list_id,
                channel_id=body.channel_id,
                user_id=body.user_id,
            )
            self.seal(row, body.password)
            await self.check(s, scope, row, set(type(body).model_fields))
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, username=row.username)
            return await self.view(s, row)

    async def update(
        self, scope: Scope, row_id: str, body: schema.SipUserUpdate
    ) -> schema.SipUserView:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            for name, value in fields.items():
                if name == "password":
                    if value is None:
                        raise Invalid("password cannot be null", fields={name: "required"})
                    self.seal(row, value)
                elif name == "credential_list_id" and value is None:
                    raise Invalid(f"{name} cannot be null", fields={name: "required"})
                else:
                    setattr(row, name, value)
            await self.check(s, scope, row, set(fields))
            await self.flush(s)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

    async def reveal_password(self, scope: Scope, row_id: str) -> schema.RevealedPassword:
        scope.actor.require(Role.admin)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            await self.audit(s, scope, "reveal_password", row.id)
            return schema.RevealedPassword(password=self.password(row))

    async def dependents(self, s: AsyncSession, row: SipUser) -> list[Dependent]:
        return [
            *await extensions_targeting(s, "sip_user", row.id),
            *await channels_routing_to(s, "sip_user", row.id),
        ]
