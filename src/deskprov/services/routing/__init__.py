"""Call routing: one plan per provider account (``plan.RoutingPlan``), read through this service
by the route API, the command line and Twilio's voice webhooks (``twilio.TwilioVoice``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import Organisation, ProviderAccount
from deskprov.domain.roles import Role
from deskprov.domain.routing import Decision
from deskprov.domain.rules import has_control_characters
from deskprov.errors import Invalid, NotFound, Unsupported
from deskprov.providers.base import provider_for
from deskprov.schemas import routing as schema
from deskprov.services.base import Deps, Scope, get_in_org
from deskprov.services.caches import Lru
from deskprov.services.routing.load import load_plan
from deskprov.services.routing.plan import RoutingPlan

PLANS = 16  # accounts whose plan is kept between changes (keyed by the data version)
DIALLED_MAX = 64


class Routing:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._plans: Lru[tuple[str, int], RoutingPlan] = Lru(PLANS)

    async def plan(self, s: AsyncSession, account: ProviderAccount) -> RoutingPlan:
        """The account's plan as of this transaction (read again after any change in the
        organisation: every change bumps its data version)."""
        version = await s.scalar(
            select(Organisation.data_version).where(Organisation.id == account.org_id)
        )
        key = (account.id, int(version or 0))
        plan = self._plans.get(key)
        if plan is None:
            plan = await load_plan(s, account, self.deps.settings.whippy_sip_suffix)
            self._plans.put(key, plan)
        return plan

    async def route(self, scope: Scope, dialled: str, query: schema.RouteQuery) -> schema.RouteView:
        """``GET .../routes/{dialled}?from=``: any role."""
        scope.actor.require(Role.viewer)
        assert scope.account_id is not None
        async with self.deps.db.read() as s:
            account = await get_in_org(
                s, ProviderAccount, scope.actor.org_id, scope.account_id, "provider_account"
            )
            return await self._route(s, account, query.caller, dialled)

    async def goes_to(
        self, scope: Scope, dialled: Sequence[str], numbers: Sequence[str]
    ) -> tuple[dict[str, Decision], dict[str, Decision]]:
        """For the admin pages' lists: what each dialled string reaches from a SIP user without
        a channel (a key's extension), and where a call from outside to each number goes (its
        channel's route). Nothing for an account without SIP users."""
        scope.actor.require(Role.viewer)
        assert scope.account_id is not None
        async with self.deps.db.read() as s:
            account = await get_in_org(
                s, ProviderAccount, scope.actor.org_id, scope.account_id, "provider_account"
            )
            if not provider_for(account.provider).supports_sip:
                return {}, {}
            plan = await self.plan(s, account)
        return (
            {d: plan.route(None, d) for d in dialled},
            {n: plan.inbound(n) for n in numbers},
        )

    async def route_in_account(
        self, account_id: str, caller: str | None, dialled: str
    ) -> schema.RouteView:
        """The same for the command line, which acts for no organisation."""
        async with self.deps.db.read() as s:
            account = await s.get(ProviderAccount, account_id)
            if account is None:
                raise NotFound(f"no provider account {account_id}")
            return await self._route(s, account, caller, dialled)

    async def _route(
        self, s: AsyncSession, account: ProviderAccount, caller: str | None, dialled: str
    ) -> schema.RouteView:
        if not 1 <= len(dialled) <= DIALLED_MAX or has_control_characters(dialled):
            raise Invalid(
                "the dialled string is not something a phone can dial",
                fields={"dialled": f"1 to {DIALLED_MAX} characters, no control characters"},
            )
        if not provider_for(account.provider).supports_sip:
            raise Unsupported(f"{account.provider} accounts have no SIP users, so no routes")
        plan = await self.plan(s, account)
        return route_view(plan.route(caller, dialled))


def route_view(decision: Decision) -> schema.RouteView:
    assert decision.kind != "inbound"  # (only calls from SIP users are asked through the API)
    reaches = decision.reaches
    return schema.RouteView(
        dialled=decision.dialled,
        kind=decision.kind,
        strategy=decision.strategy,
        ring_seconds=decision.ring_seconds,
        caller_id=decision.caller_id,
        targets=[schema.RouteTargetView(type=t.type, value=t.value) for t in decision.targets],
        reachable=decision.reachable,
        explanation=decision.explanation,
        reaches=(
            schema.ReachesView(type=reaches.type, id=reaches.id, name=reaches.name)
            if reaches
            else None
        ),
    )
