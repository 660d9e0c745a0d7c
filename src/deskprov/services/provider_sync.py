"""``provider-sync``: deskprov's SIP objects and phone numbers compared with the provider's (a
drift report), the provider made to match deskprov (repair), and what exists only at the
provider taken in (import).

The provider is read before our database: an object a change in flight has just made at the
provider already has its pending record here, so it is never mistaken for a stranger. Repair and
import are refused while a change is in flight (its commit could undo at the provider what they
build on). No transaction is open while the provider is called.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    CredentialAttachment,
    CredentialList,
    PendingChange,
    ProviderAccount,
    ProviderPhone,
    SipDomain,
    SipUser,
)
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Actor, Role
from deskprov.errors import Conflict, Invalid, NotFound, Unsupported
from deskprov.providers import sync
from deskprov.providers.base import (
    NoProgress,
    NumberMarket,
    OwnedNumber,
    Progress,
    RemoteState,
    SipHost,
)
from deskprov.schemas import account as schema
from deskprov.security.secretbox import sip_password_binding
from deskprov.services.base import Deps, Scope, bump_data_version, get_in_org, iso, record
from deskprov.services.phones import as_described
from deskprov.services.remote import sip_host, store_sid, twilio_market

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
        at = await self._provider(scope)
        _, _, drift = await self._compare(scope, at, progress or NoProgress())
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
        at = await self._provider(scope)
        ours, theirs, drift = await self._compare(scope, at, progress)
        if drift.busy:
            raise Conflict(
                "a change at the provider is in progress for this account: try again in a "
                "couple of minutes"
            )
        if body.repair:
            done = await self._repair(scope, at, ours, theirs, drift, progress)
        else:
            done = await self._import(scope, ours, theirs, drift)
        _, _, after = await self._compare(scope, at, progress)
        return self._view(after, done)

    async def _provider(self, scope: Scope) -> tuple[SipHost, NumberMarket]:
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
        return host, twilio_market(self.deps, account)

    async def _compare(
        self, scope: Scope, at: tuple[SipHost, NumberMarket], progress: Progress
    ) -> tuple[sync.LocalState, RemoteState, sync.Drift]:
        host, market = at
        theirs = await host.state(progress)  # first: see the module's docstring
        progress.grow(1)
        theirs = replace(theirs, numbers=tuple(await market.numbers()))
        progress.advance()
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
                phones=tuple(
                    sync.LocalPhone(p.id, p.phone_number, p.sid, p.setup_type == "bought")
                    for p in await rows(ProviderPhone)
                ),
                interrupted=tuple(
                    sync.Interrupted(
                        p.id,
                        p.action,
                        p.target_type,
                        p.target_id,
                        iso(p.created_at),
                        now - p.created_at < running,
                        p.detail or {},
                    )
                    for p in await rows(PendingChange)
                ),
            )

    async def _repair(
        self,
        scope: Scope,
        at: tuple[SipHost, NumberMarket],
        ours: sync.LocalState,
        theirs: RemoteState,
        drift: sync.Drift,
        progress: Progress,
    ) -> list[sync.Item]:
        host, market = at
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

        async def stored(kind: str, row_id: str, sid: str) -> None:
            await store_sid(self.deps, MODELS[kind], row_id, sid)

        done = await sync.repair(host, ours, theirs, drift, passwords, stored, progress)
        done += await sync.repair_numbers(market, drift, progress)
        async with self.deps.db.write() as s:
            done += await self._record_numbers(s, scope, drift)
            finished = [c.id for c in ours.interrupted]
            await s.execute(delete(PendingChange).where(PendingChange.id.in_(finished)))
            await self._audit(s, scope, "repair", done=len(done), interrupted=len(finished))
        return done

    async def _record_numbers(
        self, s: AsyncSession, scope: Scope, drift: sync.Drift
    ) -> list[sync.Item]:
        """Our side of repairing numbers: a number an interrupted buy got is taken in as a
        bought phone, a phone whose release went through is deleted, a phone whose number the
        account holds under another SID takes that SID."""
        done: list[sync.Item] = []
        taken = await self._numbers_of(s, scope)
        for number in drift.take_in:
            if number.phone_number in taken:
                detail = f"not taken in: {number.phone_number} is a phone of the organisation"
                done.append(sync.Item("provider_phone", detail, None, number.sid))
                continue
            row = await self._add_phone(s, scope, number, bought=True)
            done.append(sync.Item("provider_phone", "taken in as a bought phone", row.id, row.sid))
        for phone in drift.released:
            gone = await s.get(ProviderPhone, phone.id)
            if gone is not None:
                await s.delete(gone)
                await self._phone_audit(s, scope, "delete", gone)
                detail = "deleted here: its number was released by a delete that was interrupted"
                done.append(sync.Item("provider_phone", detail, phone.id, phone.sid))
        for phone, number in drift.moved:
            found = await s.get(ProviderPhone, phone.id)
            if found is not None:
                for name, value in as_described(number).items():
                    setattr(found, name, value)
                done.append(
                    sync.Item("provider_phone", "SID taken from the provider", phone.id, number.sid)
                )
        if done:
            await bump_data_version(s, scope.actor.org_id)
        return done

    async def _numbers_of(self, s: AsyncSession, scope: Scope) -> set[str]:
        return set(
            await s.scalars(
                select(ProviderPhone.phone_number).where(ProviderPhone.org_id == scope.actor.org_id)
            )
        )

    async def _add_phone(
        self, s: AsyncSession, scope: Scope, number: OwnedNumber, *, bought: bool
    ) -> ProviderPhone:
        assert scope.account_id is not None
        row = ProviderPhone(
            id=new_id("provider_phone"),
            created_at=self.deps.clock(),
            org_id=scope.actor.org_id,
            account_id=scope.account_id,
            setup_type="bought" if bought else "manual",
            phone_number=number.phone_number,
            **as_described(number),
        )
        s.add(row)
        await s.flush()
        await self._phone_audit(s, scope, "create", row)
        return row

    async def _phone_audit(
        self, s: AsyncSession, scope: Scope, action: str, row: ProviderPhone
    ) -> None:
        detail = {"setup_type": row.setup_type, "phone_number": row.phone_number, "sync": True}
        await record(
            s,
            self.deps,
            scope.actor.org_id,
            scope.actor.label,
            f"provider_phone.{action}",
            "provider_phone",
            row.id,
            detail,
        )

    async def _import(
        self, scope: Scope, ours: sync.LocalState, theirs: RemoteState, drift: sync.Drift
    ) -> list[sync.Item]:
        assert scope.account_id is not None
        done: list[sync.Item] = []
        async with self.deps.db.write() as s:
            taken = set(
                await s.scalars(select(SipDomain.prefix).where(SipDomain.provider == "twilio"))
            )
            plan = sync.importable(ours, theirs, drift, taken, await self._numbers_of(s, scope))
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
            for number, bought in plan.numbers:
                row = await self._add_phone(s, scope, number, bought=bought)
                kind = "bought (by an interrupted buy)" if bought else "manual"
                done.append(sync.Item("provider_phone", f"imported as {kind}", row.id, row.sid))
            # An interrupted buy whose number came in is settled.
            settled = {n.phone_number for n, bought in plan.numbers if bought}
            await s.execute(
                delete(PendingChange).where(
                    PendingChange.id.in_(
                        [
                            c.id
                            for c in ours.interrupted
                            if c.action == sync.BUY and c.detail.get("phone_number") in settled
                        ]
                    )
                )
            )
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
