"""Changes made at a provider as well as here, without a distributed transaction.

One shape for every such change (``provider_change``):

1. check our rules in a short read transaction; the check says what the provider must do
   (a ``Remote``), or nothing for providers that keep nothing of it (whippy_phone, meta: then
   the change is checked again and committed in one write transaction, as before);
2. record the change as pending (a short write), so that a crash from here on is found;
3. call the provider with no transaction open (a slow provider holds no lock of ours);
4. in one write transaction, check the rules again (the check must still ask the provider for
   the same thing), commit the change and drop its pending record; the transaction first
   locks the provider account's row, so that on PostgreSQL two such commits of one account
   check and commit one after the other (SQLite's write lock does that already);
5. when the provider call or the commit fails, take back at the provider what the call did.

A pending record left behind (the process died between 3 and 4, or taking back failed) is
reported by ``provider-sync`` as interrupted, and its repair makes the provider match us.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import PendingChange, ProviderAccount
from deskprov.domain.ids import new_id
from deskprov.errors import Conflict, Invalid, ProviderError
from deskprov.providers.base import NumberMarket, SipHost, Undo, provider_for
from deskprov.providers.twilio import TwilioClient, TwilioMarket, TwilioSip
from deskprov.security.secretbox import credentials_binding
from deskprov.services.base import Collection, Deps, Scope

log = logging.getLogger(__name__)

R = TypeVar("R")
V = TypeVar("V")


@dataclass(frozen=True)
class Remote(Generic[R]):
    """What one change does at the provider.

    ``call`` runs with no transaction open and pushes onto the ``Undo`` how to take back each
    step it made. ``key`` holds what the call was planned from (SIDs, names): the re-check in
    the write transaction must plan the same, or the change is refused and taken back.
    ``journal`` is False for calls that change nothing at the provider (a fetch); ``detail``
    is kept with the pending record, for a repair that needs more than the target's id.
    ``reversible`` is False for a call nothing can take back (a number released): when its
    commit fails, the pending record stays, so that provider-sync finishes the change here.
    """

    action: str
    target_type: str
    target_id: str | None
    call: Callable[[Undo], Awaitable[R]]
    key: tuple[Any, ...] = ()
    journal: bool = True
    detail: dict[str, str] | None = None
    reversible: bool = True


Check = Callable[[AsyncSession], Awaitable["Remote[Any] | None"]]


async def provider_change(
    deps: Deps,
    account: tuple[str, str],
    check: Check,
    commit: Callable[[AsyncSession, Any], Awaitable[V]],
) -> V:
    """Run one change the shape above describes; ``account`` is (organisation id, account id).
    ``commit`` gets the session and what the provider call returned (None when no call)."""
    async with deps.db.read() as s:
        remote = await check(s)
    if remote is None:
        async with deps.db.write() as s:
            if await check(s) is not None:
                raise Conflict("the provider account changed meanwhile: try again")
            return await commit(s, None)

    pending = await _record(deps, account, remote) if remote.journal else None
    undo = Undo()
    try:
        result = await remote.call(undo)
    except ProviderError as exc:
        # A call that timed out may have been carried out: its pending record stays, so that
        # provider-sync finds what it may have left.
        await _take_back(deps, undo, None if exc.ambiguous else pending)
        raise
    except BaseException:
        await _take_back(deps, undo, pending)
        raise
    try:
        async with deps.db.write() as s:
            # (NO KEY UPDATE: other transactions may still add rows that refer to the account)
            locked = select(ProviderAccount.id).where(ProviderAccount.id == account[1])
            await s.execute(locked.with_for_update(key_share=True))
            again = await check(s)
            if again is None or again.key != remote.key:
                raise Conflict(
                    "this changed while the provider was being called: nothing was changed, "
                    "try again"
                )
            value = await commit(s, result)
            if pending is not None:
                await s.execute(delete(PendingChange).where(PendingChange.id == pending))
            return value
    except BaseException:
        await _take_back(deps, undo, pending if remote.reversible else None)
        raise


async def _record(deps: Deps, account: tuple[str, str], remote: Remote[Any]) -> str:
    org_id, account_id = account
    pending_id = new_id("pending_change")
    async with deps.db.write() as s:
        s.add(
            PendingChange(
                id=pending_id,
                created_at=deps.clock(),
                org_id=org_id,
                account_id=account_id,
                action=remote.action,
                target_type=remote.target_type,
                target_id=remote.target_id,
                detail=remote.detail,
            )
        )
    return pending_id


async def _take_back(deps: Deps, undo: Undo, pending: str | None) -> None:
    """Undo at the provider; the pending record goes only when that fully worked (else it is
    what provider-sync reports)."""
    if await undo.run() and pending is not None:
        try:
            async with deps.db.write() as s:
                await s.execute(delete(PendingChange).where(PendingChange.id == pending))
        except Exception:
            log.exception("could not drop the pending record of a change taken back")


# --- the provider adapters of an account ----------------------------------------------------


def credentials(deps: Deps, account: ProviderAccount) -> dict[str, str] | None:
    if account.credentials_sealed is None:
        return None
    plain = deps.box.open(account.credentials_sealed, binding=credentials_binding(account.id))
    loaded: dict[str, str] = json.loads(plain)
    return loaded


def twilio_client(deps: Deps, account: ProviderAccount) -> TwilioClient:
    found = credentials(deps, account)
    if not found:
        raise Invalid(
            "the provider account has no credentials to call Twilio with",
            fields={"credentials": "required"},
        )
    return client_for(deps, found)


def client_for(deps: Deps, credentials: dict[str, str]) -> TwilioClient:
    """A client for Twilio credentials (``account_sid``, ``auth_token``)."""
    return TwilioClient(
        deps.http,
        deps.settings.twilio_api_url,
        credentials["account_sid"],
        credentials["auth_token"],
        deps.settings.twilio_timeout,
    )


def sip_host(deps: Deps, account: ProviderAccount) -> SipHost | None:
    """The provider that hosts this account's SIP objects, or None when only deskprov does."""
    if not provider_for(account.provider).hosts_sip:
        return None
    return TwilioSip(twilio_client(deps, account), deps.settings.public_url, account.id)


def twilio_market(deps: Deps, account: ProviderAccount) -> NumberMarket:
    return TwilioMarket(twilio_client(deps, account), deps.settings.public_url, account.id)


async def store_sid(deps: Deps, model: Any, row_id: str, sid: str) -> None:
    """After an object was made again at the provider (a delete taken back): its new SID."""
    async with deps.db.write() as s:
        await s.execute(update(model).where(model.id == row_id).values(provider_sid=sid))


class HostedCollection(Collection[Any, Any]):
    """A provider account's resource that may also exist at the provider: a delete is made
    there first (``remote_delete``), then here."""

    in_account = True

    async def remote_delete(
        self, s: AsyncSession, row: Any, account: ProviderAccount
    ) -> Remote[Any] | None:
        return None

    def where(self, scope: Scope) -> tuple[str, str]:
        assert scope.account_id is not None
        return scope.actor.org_id, scope.account_id

    async def delete(self, scope: Scope, row_id: str) -> None:
        scope.actor.require(self.write_role)

        async def check(s: AsyncSession) -> Remote[Any] | None:
            row = await self.deletable(s, scope, row_id)
            return await self.remote_delete(s, row, await self.account(s, scope))

        async def commit(s: AsyncSession, _: Any) -> None:
            row = await self.deletable(s, scope, row_id)
            await self.release(s, row)
            await s.delete(row)
            await self.audit(s, scope, "delete", row_id)

        await provider_change(self.deps, self.where(scope), check, commit)
