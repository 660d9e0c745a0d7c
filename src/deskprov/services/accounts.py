"""Provider accounts and their SIP side: domains, credential lists, attachments, SIP users.

On a provider that hosts SIP objects (twilio) every write is made there as well, through
``services.remote.provider_change``: our rules (Twilio's limits among them) are checked before
anything is sent, the provider is called with no transaction open, and the commit checks again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    Channel,
    CredentialAttachment,
    CredentialList,
    InventoryNumber,
    PendingChange,
    ProviderAccount,
    ProviderPhone,
    ProvisioningUrl,
    SipDomain,
    SipExtension,
    SipUser,
    User,
)
from deskprov.domain import rules
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Role
from deskprov.errors import Conflict, Dependent, Invalid
from deskprov.providers import twilio
from deskprov.providers.base import SipHost, Undo, attach, detach, provider_for
from deskprov.schemas import account as schema
from deskprov.schemas import organisation as org_schema
from deskprov.security.secretbox import credentials_binding, sip_password_binding
from deskprov.services import registrations
from deskprov.services.base import (
    Collection,
    Scope,
    changed,
    dependents_of,
    get_referenced,
    ids_of,
    iso,
)
from deskprov.services.organisation import channels_routing_to, extensions_targeting
from deskprov.services.remote import (
    HostedCollection,
    Remote,
    client_for,
    credentials,
    provider_change,
    sip_host,
    store_sid,
)


class ProviderAccounts(Collection[ProviderAccount, org_schema.ProviderAccountView]):
    kind = "provider_account"
    model = ProviderAccount
    searchable = ("name",)
    sortable = ("name", "provider")

    async def view(self, s: AsyncSession, row: ProviderAccount) -> org_schema.ProviderAccountView:
        return org_schema.ProviderAccountView(
            id=row.id,
            name=row.name,
            provider=row.provider,
            has_credentials=row.credentials_sealed is not None,
            edge=row.edge,
            created_at=iso(row.created_at),
        )

    def credentials(self, row: ProviderAccount) -> dict[str, str] | None:
        return credentials(self.deps, row)

    async def verified(self, provider: str, given: dict[str, Any] | None) -> None:
        """Refuse credentials that cannot be used, asking the provider (no transaction open)."""
        if given is None:
            if provider_for(provider).required_credentials:
                raise Invalid(
                    f"{provider} accounts need credentials", fields={"credentials": "required"}
                )
            return
        problems = provider_for(provider).credential_problems(given)
        if problems:
            raise Invalid("the credentials are not usable for this provider", fields=problems)
        if provider == "twilio":
            await twilio.check_account(client_for(self.deps, given))

    def seal_credentials(self, row: ProviderAccount, given: dict[str, Any] | None) -> None:
        row.credentials_sealed = (
            None
            if given is None
            else self.deps.box.seal(
                json.dumps(given, sort_keys=True), binding=credentials_binding(row.id)
            )
        )

    @staticmethod
    def check_edge(provider: str, edge: str | None) -> None:
        problem = provider_for(provider).edge_problem(edge)
        if problem:
            raise Invalid("this edge cannot be used", fields={"edge": problem})

    async def create(
        self, scope: Scope, body: org_schema.ProviderAccountCreate
    ) -> org_schema.ProviderAccountView:
        scope.actor.require(self.write_role)
        self.check_edge(body.provider, body.edge)
        await self.verified(body.provider, body.credentials)
        async with self.deps.db.write() as s:
            row = self.new_row(scope, name=body.name, provider=body.provider, edge=body.edge)
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
        if "name" in fields and body.name is None:
            raise Invalid("name cannot be null", fields={"name": "required"})
        async with self.deps.db.read() as s:
            provider = (await self.load(s, scope, row_id)).provider
        if "edge" in fields:
            self.check_edge(provider, body.edge)
        if "credentials" in fields:
            await self.verified(provider, body.credentials)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            if body.name is not None:
                row.name = body.name
            if "edge" in fields:
                row.edge = body.edge
            if "credentials" in fields:
                await self.check_same_provider_account(s, row, body.credentials)
                self.seal_credentials(row, body.credentials)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

    async def check_same_provider_account(
        self, s: AsyncSession, row: ProviderAccount, given: dict[str, Any] | None
    ) -> None:
        """New credentials may renew the token, not point at another Twilio account while SIP
        objects of ours live in this one (they would be left behind there, unmanaged)."""
        old = self.credentials(row)
        if old is None or (given or {}).get("account_sid") == old.get("account_sid"):
            return
        for model in (SipDomain, CredentialList, SipUser):
            if await s.scalar(
                select(model.id).where(model.account_id == row.id, model.provider_sid.is_not(None))
            ):
                raise Conflict(
                    "this account's SIP objects live in its current Twilio account: delete them "
                    "before connecting another one",
                    fields={
                        "credentials": "another Twilio account than the one holding the SIP objects"
                    },
                )

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

    async def release(self, s: AsyncSession, row: ProviderAccount) -> None:
        for pending in await s.scalars(
            select(PendingChange).where(PendingChange.account_id == row.id)
        ):
            await s.delete(pending)
        await s.flush()


def friendly_name(name: str) -> None:
    """Twilio's limit on names (FriendlyName), ours for twilio accounts."""
    if len(name) > twilio.FRIENDLY_NAME_MAX:
        raise Invalid(
            "names of Twilio objects are at most 64 characters",
            fields={"name": f"at most {twilio.FRIENDLY_NAME_MAX} characters on twilio accounts"},
        )


def not_at_provider(kind: str, field: str) -> Conflict:
    return Conflict(
        f"the {kind} does not exist at the provider yet: run provider-sync with repair first",
        fields={field: "not at the provider yet"},
    )


async def count(s: AsyncSession, *where: Any) -> int:
    return int(await s.scalar(select(func.count()).where(*where)) or 0)


class NamedAtProvider(HostedCollection):
    """A domain or a credential list: its name is its FriendlyName at the provider, where it is
    renamed and deleted too (a delete taken back makes it again there, under a new SID)."""

    def renamer(self, host: SipHost) -> Callable[[str, str], Awaitable[None]]:
        raise NotImplementedError

    def deleter(self, host: SipHost) -> Callable[[str], Awaitable[None]]:
        raise NotImplementedError

    def maker(self, host: SipHost, row: Any) -> Callable[[], Awaitable[str]]:
        raise NotImplementedError

    async def name_rules(
        self, s: AsyncSession, account: ProviderAccount, row_id: str, name: str
    ) -> None:
        friendly_name(name)

    async def update(self, scope: Scope, row_id: str, body: Any) -> Any:
        scope.actor.require(self.write_role)
        fields = changed(body)
        if "name" in fields and body.name is None:
            raise Invalid("a required field cannot be null", fields={"name": "required"})

        async def check(s: AsyncSession) -> Remote[None] | None:
            row = await self.load(s, scope, row_id)
            account = await self.account(s, scope)
            host = sip_host(self.deps, account)
            if host is None or body.name is None:
                return None
            await self.name_rules(s, account, row.id, body.name)
            if row.provider_sid is None:
                return None
            rename, sid, old = self.renamer(host), row.provider_sid, row.name

            async def call(undo: Undo) -> None:
                await rename(sid, body.name)
                undo.push(partial(rename, sid, old))

            return Remote(f"{self.kind}.update", self.kind, row_id, call, (sid, old))

        async def commit(s: AsyncSession, _: Any) -> Any:
            row = await self.load(s, scope, row_id)
            if body.name is not None:
                row.name = body.name
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def remote_delete(
        self, s: AsyncSession, row: Any, account: ProviderAccount
    ) -> Remote[None] | None:
        host = sip_host(self.deps, account)
        if host is None or row.provider_sid is None:
            return None
        delete, make, sid, row_id = (
            self.deleter(host),
            self.maker(host, row),
            row.provider_sid,
            row.id,
        )

        async def again() -> None:
            await store_sid(self.deps, self.model, row_id, await make())

        async def call(undo: Undo) -> None:
            await delete(sid)
            undo.push(again)

        return Remote(f"{self.kind}.delete", self.kind, row.id, call, (sid,))


class SipDomains(NamedAtProvider):
    kind = "sip_domain"
    model = SipDomain
    searchable = ("name", "prefix")
    sortable = ("name", "prefix")
    needs_sip = True

    async def view(self, s: AsyncSession, row: SipDomain) -> schema.SipDomainView:
        return schema.SipDomainView(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            domain=self.domain(row),
            provider_sid=row.provider_sid,
            created_at=iso(row.created_at),
        )

    def domain(self, row: SipDomain) -> str:
        return provider_for(row.provider).domain_for(
            row.prefix, self.deps.settings.whippy_sip_suffix
        )

    async def create(self, scope: Scope, body: schema.SipDomainCreate) -> schema.SipDomainView:
        scope.actor.require(self.write_role)
        row_id = new_id(self.kind)

        async def check(s: AsyncSession) -> Remote[str] | None:
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
            host = sip_host(self.deps, account)
            if host is None:
                return None
            friendly_name(body.name)
            if await count(s, SipDomain.account_id == account.id) >= twilio.DOMAINS_MAX:
                raise Conflict(f"a Twilio account holds at most {twilio.DOMAINS_MAX} SIP domains")

            async def call(undo: Undo) -> str:
                sid = await host.create_domain(body.prefix, body.name)
                undo.push(partial(host.delete_domain, sid))
                return sid

            return Remote("sip_domain.create", self.kind, row_id, call, (body.prefix, body.name))

        async def commit(s: AsyncSession, sid: str | None) -> schema.SipDomainView:
            account = await self.account(s, scope)
            row = self.new_row(
                scope,
                row_id,
                name=body.name,
                prefix=body.prefix,
                provider=account.provider,
                provider_sid=sid,
            )
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, prefix=body.prefix)
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    def renamer(self, host: SipHost) -> Callable[[str, str], Awaitable[None]]:
        return host.update_domain

    def deleter(self, host: SipHost) -> Callable[[str], Awaitable[None]]:
        return host.delete_domain

    def maker(self, host: SipHost, row: SipDomain) -> Callable[[], Awaitable[str]]:
        return partial(host.create_domain, row.prefix, row.name)

    async def dependents(self, s: AsyncSession, row: SipDomain) -> list[Dependent]:
        return dependents_of(
            "credential_attachment",
            await ids_of(s, CredentialAttachment, CredentialAttachment.sip_domain_id == row.id),
        )


class CredentialLists(NamedAtProvider):
    kind = "credential_list"
    model = CredentialList
    searchable = ("name",)
    sortable = ("name",)
    needs_sip = True

    async def view(self, s: AsyncSession, row: CredentialList) -> schema.CredentialListView:
        users = await count(s, SipUser.credential_list_id == row.id)
        return schema.CredentialListView(
            id=row.id,
            name=row.name,
            sip_user_count=users,
            provider_sid=row.provider_sid,
            created_at=iso(row.created_at),
        )

    async def twilio_rules(
        self, s: AsyncSession, account_id: str, name: str, row_id: str | None
    ) -> None:
        friendly_name(name)
        if await s.scalar(
            select(CredentialList.id).where(
                CredentialList.account_id == account_id,
                CredentialList.name == name,
                CredentialList.id != (row_id or ""),
            )
        ):
            raise Conflict(
                "Twilio takes one credential list of a name per account",
                fields={"name": "already taken in this account"},
            )
        if row_id is None and await count(s, CredentialList.account_id == account_id) >= (
            twilio.LISTS_MAX
        ):
            raise Conflict(f"a Twilio account holds at most {twilio.LISTS_MAX} credential lists")

    async def create(
        self, scope: Scope, body: schema.CredentialListCreate
    ) -> schema.CredentialListView:
        scope.actor.require(self.write_role)
        row_id = new_id(self.kind)

        async def check(s: AsyncSession) -> Remote[str] | None:
            account = await self.account(s, scope)
            host = sip_host(self.deps, account)
            if host is None:
                return None
            await self.twilio_rules(s, account.id, body.name, None)

            async def call(undo: Undo) -> str:
                sid = await host.create_list(body.name)
                undo.push(partial(host.delete_list, sid))
                return sid

            return Remote("credential_list.create", self.kind, row_id, call, (body.name,))

        async def commit(s: AsyncSession, sid: str | None) -> schema.CredentialListView:
            row = self.new_row(scope, row_id, name=body.name, provider_sid=sid)
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id)
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def name_rules(
        self, s: AsyncSession, account: ProviderAccount, row_id: str, name: str
    ) -> None:
        await self.twilio_rules(s, account.id, name, row_id)

    def renamer(self, host: SipHost) -> Callable[[str, str], Awaitable[None]]:
        return host.rename_list

    def deleter(self, host: SipHost) -> Callable[[str], Awaitable[None]]:
        return host.delete_list

    def maker(self, host: SipHost, row: CredentialList) -> Callable[[], Awaitable[str]]:
        return partial(host.create_list, row.name)

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


class CredentialAttachments(HostedCollection):
    kind = "credential_attachment"
    model = CredentialAttachment
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

    async def pair(
        self, s: AsyncSession, scope: Scope, domain_id: str, list_id: str, row_id: str
    ) -> tuple[str | None, str | None]:
        """Check a (domain, list) pair for an attachment; their SIDs at the provider."""
        domain = await in_account(s, SipDomain, scope, domain_id, "sip_domain", "sip_domain_id")
        cred_list = await in_account(
            s, CredentialList, scope, list_id, "credential_list", "credential_list_id"
        )
        taken = await s.scalar(
            select(CredentialAttachment.id).where(
                CredentialAttachment.sip_domain_id == domain_id,
                CredentialAttachment.credential_list_id == list_id,
                CredentialAttachment.id != row_id,
            )
        )
        if taken:
            raise Conflict(
                "this credential list is already attached to this domain",
                fields={"credential_list_id": "already attached to this domain"},
            )
        return domain.provider_sid, cred_list.provider_sid

    @staticmethod
    def sids(pair: tuple[str | None, str | None]) -> tuple[str, str]:
        domain_sid, list_sid = pair
        if domain_sid is None:
            raise not_at_provider("SIP domain", "sip_domain_id")
        if list_sid is None:
            raise not_at_provider("credential list", "credential_list_id")
        return domain_sid, list_sid

    async def create(
        self, scope: Scope, body: schema.CredentialAttachmentCreate
    ) -> schema.CredentialAttachmentView:
        scope.actor.require(self.write_role)
        row_id = new_id(self.kind)

        async def check(s: AsyncSession) -> Remote[None] | None:
            host = sip_host(self.deps, await self.account(s, scope))
            pair = await self.pair(s, scope, body.sip_domain_id, body.credential_list_id, row_id)
            if host is None:
                return None
            domain_sid, list_sid = self.sids(pair)
            return Remote(
                "credential_attachment.create",
                self.kind,
                row_id,
                partial(attach, host, domain_sid, list_sid),
                (domain_sid, list_sid),
            )

        async def commit(s: AsyncSession, _: Any) -> schema.CredentialAttachmentView:
            row = self.new_row(
                scope,
                row_id,
                sip_domain_id=body.sip_domain_id,
                credential_list_id=body.credential_list_id,
            )
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id)
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def update(
        self, scope: Scope, row_id: str, body: schema.CredentialAttachmentUpdate
    ) -> schema.CredentialAttachmentView:
        """Mappings cannot be changed at Twilio: the new pair is mapped, then the old one is
        unmapped (so the phones on the list never lose their domain meanwhile)."""
        scope.actor.require(self.write_role)
        fields = changed(body)
        for name, value in fields.items():
            if value is None:
                raise Invalid("a required field cannot be null", fields={name: "required"})

        async def check(s: AsyncSession) -> Remote[None] | None:
            row = await self.load(s, scope, row_id)
            host = sip_host(self.deps, await self.account(s, scope))
            new = await self.pair(
                s,
                scope,
                body.sip_domain_id or row.sip_domain_id,
                body.credential_list_id or row.credential_list_id,
                row.id,
            )
            old = await self.pair(s, scope, row.sip_domain_id, row.credential_list_id, row.id)
            if host is None or new == old:
                return None
            new_sids, old_sids = self.sids(new), self.sids(old)

            async def call(undo: Undo) -> None:
                await attach(host, *new_sids, undo)
                await detach(host, *old_sids, undo)

            return Remote(
                "credential_attachment.update", self.kind, row_id, call, (new_sids, old_sids)
            )

        async def commit(s: AsyncSession, _: Any) -> schema.CredentialAttachmentView:
            row = await self.load(s, scope, row_id)
            for name, value in fields.items():
                setattr(row, name, value)
            await self.flush(s)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def remote_delete(
        self, s: AsyncSession, row: CredentialAttachment, account: ProviderAccount
    ) -> Remote[None] | None:
        host = sip_host(self.deps, account)
        if host is None:
            return None
        domain = await s.get(SipDomain, row.sip_domain_id)
        cred_list = await s.get(CredentialList, row.credential_list_id)
        assert domain is not None and cred_list is not None  # (foreign keys)
        domain_sid, list_sid = domain.provider_sid, cred_list.provider_sid
        if domain_sid is None or list_sid is None:
            return None
        return Remote(
            "credential_attachment.delete",
            self.kind,
            row.id,
            partial(detach, host, domain_sid, list_sid),
            (domain_sid, list_sid),
        )


class SipUsers(HostedCollection):
    kind = "sip_user"
    model = SipUser
    sortable = ("username",)
    filters = ("user_id", "credential_list_id")

    @staticmethod
    def _owner_name() -> Any:
        return func.coalesce(
            select(User.name).where(User.id == SipUser.user_id).scalar_subquery(), ""
        )

    def searched(self, text: str) -> list[Any]:
        """A username, or the name of the user who owns it."""
        return [
            SipUser.username.icontains(text, autoescape=True),
            self._owner_name().icontains(text, autoescape=True),
        ]

    def sort_columns(self) -> dict[str, Any]:
        return {**super().sort_columns(), "owner": self._owner_name()}

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
            provider_sid=row.provider_sid,
            password_unknown=row.password_sealed is None,
            created_at=iso(row.created_at),
        )

    @staticmethod
    def checked_password(password: str) -> str:
        problem = rules.password_problem(password)
        if problem:
            raise Invalid("the password is too weak", fields={"password": problem})
        return password

    def seal(self, row: SipUser, password: str) -> None:
        row.password_sealed = self.deps.box.seal(
            self.checked_password(password), binding=sip_password_binding(row.id)
        )

    def password(self, row: SipUser) -> str | None:
        if row.password_sealed is None:
            return None
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

    async def list_sid(self, s: AsyncSession, list_id: str, joining: bool) -> str:
        """The list's SID at the provider, checking Twilio's limit when a user joins it."""
        cred_list = await s.get(CredentialList, list_id)
        assert cred_list is not None  # (checked to be in the account before)
        if cred_list.provider_sid is None:
            raise not_at_provider("credential list", "credential_list_id")
        if joining and await count(s, SipUser.credential_list_id == list_id) >= (
            twilio.CREDENTIALS_PER_LIST_MAX
        ):
            raise Conflict(
                "a Twilio credential list holds at most 1,000 credentials",
                fields={"credential_list_id": "full (1,000 SIP users)"},
            )
        return cred_list.provider_sid

    async def create(self, scope: Scope, body: schema.SipUserCreate) -> schema.SipUserView:
        scope.actor.require(self.write_role)
        password = self.checked_password(body.password)
        row_id = new_id(self.kind)

        def unsaved(account_id: str) -> SipUser:
            return SipUser(
                id=row_id,
                account_id=account_id,
                username=body.username,
                credential_list_id=body.credential_list_id,
                channel_id=body.channel_id,
                user_id=body.user_id,
            )

        async def check(s: AsyncSession) -> Remote[str] | None:
            account = await self.account(s, scope)
            await self.check(s, scope, unsaved(account.id), set(type(body).model_fields))
            host = sip_host(self.deps, account)
            if host is None:
                return None
            list_sid = await self.list_sid(s, body.credential_list_id, joining=True)

            async def call(undo: Undo) -> str:
                sid = await host.create_credential(list_sid, body.username, password)
                undo.push(partial(host.delete_credential, list_sid, sid))
                return sid

            return Remote("sip_user.create", self.kind, row_id, call, (list_sid, body.username))

        async def commit(s: AsyncSession, sid: str | None) -> schema.SipUserView:
            row = self.new_row(
                scope,
                row_id,
                username=body.username,
                credential_list_id=body.credential_list_id,
                channel_id=body.channel_id,
                user_id=body.user_id,
                provider_sid=sid,
            )
            self.seal(row, password)
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, username=row.username)
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def update(
        self, scope: Scope, row_id: str, body: schema.SipUserUpdate
    ) -> schema.SipUserView:
        """A new password is set at the provider; a move to another list is, at Twilio, the
        credential made in the new list, then deleted from the old one."""
        scope.actor.require(self.write_role)
        fields = changed(body)
        for name in ("password", "credential_list_id"):
            if name in fields and fields[name] is None:
                raise Invalid(f"{name} cannot be null", fields={name: "required"})
        new_password = self.checked_password(body.password) if body.password else None

        async def check(s: AsyncSession) -> Remote[str | None] | None:
            row = await self.load(s, scope, row_id)
            probe = SipUser(
                id=row.id,
                account_id=row.account_id,
                username=row.username,
                credential_list_id=body.credential_list_id or row.credential_list_id,
                channel_id=fields.get("channel_id", row.channel_id),
                user_id=fields.get("user_id", row.user_id),
            )
            await self.check(s, scope, probe, set(fields))
            host = sip_host(self.deps, await self.account(s, scope))
            moving = probe.credential_list_id != row.credential_list_id
            if host is None or not (moving or new_password):
                return None
            if row.provider_sid is None:
                raise not_at_provider("SIP user", "username")
            old_list = await self.list_sid(s, row.credential_list_id, joining=False)
            new_list = await self.list_sid(s, probe.credential_list_id, joining=moving)
            old_password = self.password(row)
            password = new_password or old_password
            if moving and password is None:
                raise Invalid(
                    "the provider never tells a password: set one to move this SIP user",
                    fields={"password": "required to move a SIP user whose password is unknown"},
                )
            return Remote(
                "sip_user.update",
                self.kind,
                row_id,
                partial(
                    self.remote_update,
                    host,
                    row.username,
                    (old_list, row.provider_sid),
                    new_list,
                    password,
                    old_password,
                    row.id,
                ),
                (row.provider_sid, old_list, new_list, row.password_sealed),
            )

        async def commit(s: AsyncSession, sid: str | None) -> schema.SipUserView:
            row = await self.load(s, scope, row_id)
            for name, value in fields.items():
                if name == "password":
                    self.seal(row, value)
                else:
                    setattr(row, name, value)
            if sid is not None:
                row.provider_sid = sid
            await self.flush(s)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def remote_update(
        self,
        host: SipHost,
        username: str,
        old: tuple[str, str],
        new_list: str,
        password: str | None,
        old_password: str | None,
        row_id: str,
        undo: Undo,
    ) -> str | None:
        """The provider's side of a SIP user's update; the credential's new SID if it moved."""
        old_list, old_sid = old
        if new_list == old_list:
            assert password is not None
            await host.set_password(old_list, old_sid, password)
            undo.push(partial(self.password_back, host, row_id, old_list, old_sid))
            return None
        assert password is not None
        sid = await host.create_credential(new_list, username, password)
        undo.push(partial(host.delete_credential, new_list, sid))
        await host.delete_credential(old_list, old_sid)
        if old_password is not None:

            async def again() -> None:
                made = await host.create_credential(old_list, username, old_password)
                await store_sid(self.deps, SipUser, row_id, made)

            undo.push(again)
        return sid

    async def password_back(self, host: SipHost, row_id: str, list_sid: str, sid: str) -> None:
        """Take back a password set at the provider: set the one deskprov holds now, not the
        one it held before (a change that raced this one may have committed its own since, and
        Twilio keeps only a digest: provider-sync could never see the difference)."""
        async with self.deps.db.read() as s:
            row = await s.get(SipUser, row_id)
            password = None if row is None else self.password(row)
        if password is not None:
            await host.set_password(list_sid, sid, password)

    async def remote_delete(
        self, s: AsyncSession, row: SipUser, account: ProviderAccount
    ) -> Remote[None] | None:
        host = sip_host(self.deps, account)
        if host is None or row.provider_sid is None:
            return None
        list_sid = await self.list_sid(s, row.credential_list_id, joining=False)
        sid, username, password, row_id = row.provider_sid, row.username, self.password(row), row.id

        async def again() -> None:
            if password is not None:
                made = await host.create_credential(list_sid, username, password)
                await store_sid(self.deps, SipUser, row_id, made)

        async def call(undo: Undo) -> None:
            await host.delete_credential(list_sid, sid)
            undo.push(again)

        return Remote("sip_user.delete", self.kind, row.id, call, (sid,))

    async def reveal_password(self, scope: Scope, row_id: str) -> schema.RevealedPassword:
        scope.actor.require(Role.admin)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            password = self.password(row)
            if password is None:
                raise Conflict(
                    "this SIP user came from the provider, which never tells passwords: set one"
                )
            await self.audit(s, scope, "reveal_password", row.id)
            return schema.RevealedPassword(password=password)

    async def dependents(self, s: AsyncSession, row: SipUser) -> list[Dependent]:
        return [
            *await extensions_targeting(s, "sip_user", row.id),
            *await channels_routing_to(s, "sip_user", row.id),
        ]

    async def decorate(
        self, scope: Scope, views: list[schema.SipUserView]
    ) -> list[schema.SipUserView]:
        return await registrations.for_sip_users(self.deps, scope, views)
