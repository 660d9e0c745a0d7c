"""``provider-sync``: deskprov's SIP objects compared with the provider's (a drift report), the
provider made to match deskprov (repair), and what exists only at the provider taken in (import).

The provider is read before our database: an object a change in flight has just made at the
provider already has its pending record here, so it is never mistaken for a stranger. Repair is
refused while a change is in flight. No transaction is open while the provider is called.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    CredentialAttachment,
    CredentialList,
    PendingChange,
    ProviderAccount,
    SipDomain,
    SipUser,
)
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Actor, Role
from deskprov.errors import Conflict, Invalid, NotFound, Unsupported
from deskprov.providers import sync
from deskprov.providers.base import NoProgress, Progress, RemoteState, SipHost
from deskprov.schemas import account as schema
from deskprov.security.secretbox import sip_password_binding
from deskprov.services.base import Deps, Scope, bump_data_version, get_in_org, iso, record
from deskprov.services.remote import sip_host

# A pending change younger than this may still be running: two minutes, or twelve of the
# provider's timeouts when DESKPROV_TWILIO_TIMEOUT is longer (a change makes a few calls, and
# taking it back a few more).
IN_PROGRESS = timedelta(minutes=2)
CALLS_PER_CHANGE = 12
MODELS: dict[str, Any] = {
    "sip_domain": SipDomain,
    "credential_list": CredentialList,
    "sip_user": SipUser,
}


async def cli_actor(deps: Deps, account_id: str) -> Actor:
    """The command line acts as an admin of the account's organisation."""
    async with deps.db.read() as s:
        account = await s.get(ProviderAccount, account_id)
    if account is None:
        raise NotFound(f"no provider account {account_id}")
    return Actor(org_id=account.org_id, key_id="cli", role=Role.admin)


class ProviderSync:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def report(
        self, scope: Scope, progress: Progress | None = None
    ) -> schema.ProviderSyncReport:
        scope.actor.require(Role.admin)
        host = await self._host(scope)
        _, _, drift = await self._compare(scope, host, progress or NoProgress())
        return self._view(drift, [])

    async def act(
        self,
        scope: Scope,
        body: schema.ProviderSyncAction,
        progress: Progress | None = None,
    ) -> schema.ProviderSyncReport:
        scope.actor.require(Role.admin)
        if body.repair == body.import_:
            raise Invalid(
                "ask for one of repair and import",
                fields={"repair": "one of repair and import must be true"},
            )
        progress = progress or NoProgress()
        host = await self._host(scope)
        ours, theirs, drift = await self._compare(scope, host, progress)
        if body.repair:
            done = await self._repair(scope, host, ours, theirs, drift, progress)
        else:
            done = await self._import(scope, ours, theirs, drift)
        _, _, after = await self._compare(scope, host, progress)
        return self._view(after, done)

    async def _host(self, scope: Scope) -> SipHost:
        assert scope.account_id is not None
        async with self.deps.db.read() as s:
            account = await get_in_org(
                s, ProviderAccount, scope.actor.org_id, scope.account_id, "provider_account"
            )
            host = sip_host(self.deps, account)
        if host is None:
            raise Unsupported(
                f"{account.provider} accounts keep their SIP objects in deskprov only: "
                "there is nothing to compare"
            )
        return host

    async def _compare(
        self, scope: Scope, host: SipHost, progress: Progress
    ) -> tuple[sync.LocalState, RemoteState, sync.Drift]:
        theirs = await host.state(progress)  # first: see the module's docstring
        ours = await self._ours(scope)
        return ours, theirs, sync.compare(ours, theirs, host)

    async def _ours(self, scope: Scope) -> sync.LocalState:
        now = self.deps.clock()
        running = max(
            IN_PROGRESS, timedelta(seconds=CALLS_PER_CHANGE * self.deps.settings.twilio_timeout)
        )
        async with self.deps.db.read() as s:

            async def rows(model: Any) -> list[Any]:
                return list(
                    await s.scalars(
                        select(model)
                        .where(model.account_id == scope.account_id)
                        .order_by(model.created_at, model.id)
                    )
                )

            return sync.LocalState(
                domains=tuple(
                    sync.LocalDomain(d.id, d.prefix, d.name, d.provider_sid)
                    for d in await rows(SipDomain)
                ),
                lists=tuple(
                    sync.LocalList(cl.id, cl.name, cl.provider_sid)
                    for cl in await rows(CredentialList)
                ),
                users=tuple(
                    sync.LocalUser(u.id, u.username, u.credential_list_id, u.provider_sid)
                    for u in await rows(SipUser)
                ),
                attachments=tuple(
                    sync.LocalAttachment(a.id, a.sip_domain_id, a.credential_list_id)
                    for a in await rows(CredentialAttachment)
                ),
                interrupted=tuple(
                    sync.Interrupted(
                        p.id,
                        p.action,
                        p.target_type,
                        p.target_id,
                        iso(p.created_at),
                        now - p.created_at < running,
                    )
                    for p in await rows(PendingChange)
                ),
            )

    async def _repair(
        self,
        scope: Scope,
        host: SipHost,
        ours: sync.LocalState,
        theirs: RemoteState,
        drift: sync.Drift,
        progress: Progress,
    ) -> list[sync.Item]:
        if drift.busy:
            raise Conflict(
                "a change at the provider is in progress for this account: try again in a "
                "couple of minutes"
            )
        wanted = {u.id for u in [*drift.missing_users, *drift.stale_users]}
        passwords: dict[str, str | None] = {}
        async with self.deps.db.read() as s:
            for user in await s.scalars(select(SipUser).where(SipUser.id.in_(wanted))):
                sealed = user.password_sealed
                passwords[user.id] = (
                    None
                    if sealed is None
                    else self.deps.box.open(sealed, binding=sip_password_binding(user.id))
                )

        async def store_sid(kind: str, row_id: str, sid: str) -> None:
            model = MODELS[kind]
            async with self.deps.db.write() as s:
                await s.execute(update(model).where(model.id == row_id).values(provider_sid=sid))

        done = await sync.repair(host, ours, theirs, drift, passwords, store_sid, progress)
        async with self.deps.db.write() as s:
            finished = [c.id for c in ours.interrupted if not c.in_progress]
            await s.execute(delete(PendingChange).where(PendingChange.id.in_(finished)))
            await self._audit(s, scope, "repair", done=len(done), interrupted=len(finished))
        return done

    async def _import(
        self, scope: Scope, ours: sync.LocalState, theirs: RemoteState, drift: sync.Drift
    ) -> list[sync.Item]:
        assert scope.account_id is not None
        done: list[sync.Item] = []
        async with self.deps.db.write() as s:
            taken = set(
                await s.scalars(select(SipDomain.prefix).where(SipDomain.provider == "twilio"))
            )
            plan = sync.importable(ours, theirs, drift, taken)
            now = self.deps.clock()
            owned = {"org_id": scope.actor.org_id, "account_id": scope.account_id}
            domain_ids = {d.sid: d.id for d in ours.domains if d.sid}
            list_ids = {cl.sid: cl.id for cl in ours.lists if cl.sid}
            for sid, prefix, name in plan.domains:
                row_id = domain_ids[sid] = new_id("sip_domain")
                s.add(
                    SipDomain(
                        id=row_id,
                        created_at=now,
                        **owned,
                        name=name,
                        prefix=prefix,
                        provider="twilio",
                        provider_sid=sid,
                    )
                )
                done.append(sync.Item("sip_domain", f"imported {prefix}", row_id, sid))
            for sid, name in plan.lists:
                row_id = list_ids[sid] = new_id("credential_list")
                s.add(
                    CredentialList(id=row_id, created_at=now, **owned, name=name, provider_sid=sid)
                )
                done.append(sync.Item("credential_list", f"imported {name!r}", row_id, sid))
            await s.flush()
            for sid, username, list_sid in plan.users:
                row_id = new_id("sip_user")
                s.add(
                    SipUser(
                        id=row_id,
                        created_at=now,
                        **owned,
                        username=username,
                        password_sealed=None,
                        credential_list_id=list_ids[list_sid],
                        provider_sid=sid,
                    )
                )
                done.append(
                    sync.Item("sip_user", f"imported {username} (password unknown)", row_id, sid)
                )
            existing = {(a.domain_id, a.list_id) for a in ours.attachments}
            for domain_sid, list_sid in plan.attachments:
                pair = (domain_ids.get(domain_sid), list_ids.get(list_sid))
                if None in pair or pair in existing:
                    continue
                existing.add(pair)  # type: ignore[arg-type]
                row_id = new_id("credential_attachment")
                s.add(
                    CredentialAttachment(
                        id=row_id,
                        created_at=now,
                        **owned,
                        sip_domain_id=pair[0],
                        credential_list_id=pair[1],
                    )
                )
                done.append(sync.Item("credential_attachment", "imported", row_id, list_sid))
            await s.flush()
            await bump_data_version(s, scope.actor.org_id)
            await self._audit(s, scope, "import", done=len(done), skipped=len(plan.skipped))
        return done + plan.skipped

    async def _audit(self, s: AsyncSession, scope: Scope, action: str, **detail: Any) -> None:
        await record(
            s,
            self.deps,
            scope.actor.org_id,
            scope.actor.label,
            f"provider_account.sync_{action}",
            "provider_account",
            scope.account_id,
            detail,
        )

    def _view(self, drift: sync.Drift, done: list[sync.Item]) -> schema.ProviderSyncReport:
        def items(found: list[sync.Item]) -> list[schema.DriftItem]:
            return [
                schema.DriftItem(type=i.type, id=i.id, provider_sid=i.provider_sid, detail=i.detail)
                for i in found
            ]

        return schema.ProviderSyncReport(
            checked_at=iso(self.deps.clock()),
            missing_at_provider=items(drift.missing),
            unknown_at_provider=items(drift.unknown),
            different=items(drift.different),
            done=items(done),
        )
