"""The routing plan's decisions as rows Kamailio reads (``kamailio_route``, ``kamailio_caller``).

Every row is the plan's own answer (``RoutingPlan.dialable``, ``inbound`` and ``caller_id``):
Kamailio only rings what a row names, the way the row says. Nothing here decides a route.

``sync_routes`` derives one ``whippy_phone`` account's rows again and writes only the
differences; ``accounts_using`` names the accounts whose rows an organisation-wide change (a
team, queue, channel or user) can alter, so that such a change re-derives those alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import Channel, ProviderAccount, ProviderPhone, Queue, SipUser, Team
from deskprov.domain.routing import Decision
from deskprov.registrar.tables import KamailioCaller, KamailioRoute

if TYPE_CHECKING:
    from deskprov.services.routing.plan import RoutingPlan

PROVIDER = "whippy_phone"
FROM_PHONES = "phone"  # calls from the account's SIP users
FROM_GATEWAY = "gateway"  # calls from the PSTN gateway to the account's numbers
REASON_MAX = 160
# What a SIP reason phrase may hold (RFC 3261 reason-phrase: no quotes, angle brackets, %...).
_NOT_IN_REASON = re.compile(r"[^A-Za-z0-9 ;/?:@&=+$,\-_.!~*'()\u0080-\U0010ffff]")


@dataclass(frozen=True)
class RouteRow:
    source: str
    dialled: str
    position: int
    strategy: str
    ring_seconds: int
    target: str
    reason: str
    reaches_id: str
    via_id: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.source, self.dialled, self.position)


def reason_phrase(explanation: str) -> str:
    """The plan's explanation as a SIP reason phrase (it names the team, queue or key)."""
    text = _NOT_IN_REASON.sub(" ", explanation.replace('"', "'"))
    text = " ".join(text.split())
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 3] + "..."


def rows_for(
    source: str, decision: Decision, channel_routes: dict[str, str | None]
) -> list[RouteRow]:
    """One row per target of ``decision`` (one row and no target when nobody can answer)."""
    reaches = decision.reaches
    reaches_id = reaches.id if reaches else ""
    via_id = (channel_routes.get(reaches_id) or "") if reaches and reaches.type == "channel" else ""

    def row(position: int, strategy: str, target: str) -> RouteRow:
        return RouteRow(
            source,
            decision.dialled,
            position,
            strategy,
            decision.ring_seconds or 0,
            target,
            reason_phrase(decision.explanation),
            reaches_id,
            via_id,
        )

    if not decision.targets:
        return [row(0, "none", "")]
    if decision.targets[0].type == "number":  # (a number is always the only target)
        return [row(0, "pstn", decision.targets[0].value)]
    strategy = decision.strategy or "ring_all"
    return [row(i, strategy, target.value) for i, target in enumerate(decision.targets)]


def wanted_rows(
    plan: RoutingPlan, channel_routes: dict[str, str | None]
) -> tuple[dict[tuple[str, str, int], RouteRow], dict[str, str]]:
    """The account's route rows by key, and its SIP users' caller IDs by username."""
    routes: dict[tuple[str, str, int], RouteRow] = {}
    decisions = [(FROM_PHONES, d) for d in plan.dialable()]
    decisions += [(FROM_GATEWAY, plan.inbound(n)) for n in plan.voice_numbers]
    for source, decision in decisions:
        for row in rows_for(source, decision, channel_routes):
            routes[row.key] = row
    callers = {
        u.username: caller_id
        for u in plan.sip_users
        if (caller_id := plan.caller_id(u.username)) is not None
    }
    return routes, callers


async def sync_routes(s: AsyncSession, suffix: str, account_id: str) -> int:
    """Make the account's route and caller rows what its plan says, writing only the
    differences. An account with no SIP users has none: nobody there can call or be called.

    Returns how many rows were written or removed."""
    account = await s.get(ProviderAccount, account_id)
    routes: dict[tuple[str, str, int], RouteRow] = {}
    callers: dict[str, str] = {}
    if account is not None and await _has_sip_users(s, account_id):
        # (imported here: the routing service's package imports services.base, whose audit
        # hook imports this module)
        from deskprov.services.routing.load import load_plan

        plan = await load_plan(s, account, suffix)
        channel_routes = {
            channel_id: route_ref
            for channel_id, route_ref in await s.execute(
                select(Channel.id, Channel.route_ref).where(Channel.org_id == account.org_id)
            )
        }
        routes, callers = wanted_rows(plan, channel_routes)
    return await _write_routes(s, account_id, routes) + await _write_callers(s, account_id, callers)


async def _has_sip_users(s: AsyncSession, account_id: str) -> bool:
    found = await s.scalar(select(SipUser.id).where(SipUser.account_id == account_id).limit(1))
    return found is not None


async def _write_routes(
    s: AsyncSession, account_id: str, wanted: dict[tuple[str, str, int], RouteRow]
) -> int:
    table = cast(Table, KamailioRoute.__table__)  # Core: no ORM objects per row
    columns = [table.c[name] for name in RouteRow.__dataclass_fields__]
    have: dict[tuple[str, str, int], tuple[int, RouteRow]] = {}
    for row_id, *values in await s.execute(
        select(table.c.id, *columns).where(table.c.account_id == account_id)
    ):
        row = RouteRow(*values)
        have[row.key] = (row_id, row)
    stale = [row_id for key, (row_id, row) in have.items() if wanted.get(key) != row]
    fresh = [row for key, row in wanted.items() if key not in have or have[key][1] != row]
    await _replace(s, table, stale, [{"account_id": account_id, **vars(r)} for r in fresh])
    return len(stale) + len(fresh)


async def _write_callers(s: AsyncSession, account_id: str, wanted: dict[str, str]) -> int:
    table = cast(Table, KamailioCaller.__table__)
    have: dict[str, tuple[int, str]] = {
        username: (row_id, caller_id)
        for row_id, username, caller_id in await s.execute(
            select(table.c.id, table.c.username, table.c.caller_id).where(
                table.c.account_id == account_id
            )
        )
    }
    stale = [row_id for name, (row_id, caller_id) in have.items() if wanted.get(name) != caller_id]
    fresh = [
        {"account_id": account_id, "username": name, "caller_id": caller_id}
        for name, caller_id in wanted.items()
        if name not in have or have[name][1] != caller_id
    ]
    await _replace(s, table, stale, fresh)
    return len(stale) + len(fresh)


async def _replace(
    s: AsyncSession, table: Table, stale: list[int], fresh: list[dict[str, Any]]
) -> None:
    if stale:
        await s.execute(delete(table).where(table.c.id.in_(stale)))
    if fresh:
        await s.execute(insert(table), fresh)


async def accounts_using(
    s: AsyncSession, org_id: str, kind: str, row_id: str | None, action: str
) -> list[str]:
    """The organisation's ``whippy_phone`` accounts whose rows a change of this team, queue,
    channel or user can alter (at least those; a few more do no harm, fewer would)."""
    whippy = select(ProviderAccount.id).where(
        ProviderAccount.org_id == org_id, ProviderAccount.provider == PROVIDER
    )
    route = KamailioRoute
    passing = select(route.account_id).where(
        route.account_id.in_(whippy), or_(route.reaches_id == row_id, route.via_id == row_id)
    )
    queries: list[Any] = [passing]
    if kind in ("team", "queue"):
        model: type[Team] | type[Queue] = Team if kind == "team" else Queue
        extension = await s.scalar(select(model.extension).where(model.id == row_id))
        if extension:  # a group's own extension is dialled in every account of the organisation
            queries = [whippy]
    elif kind == "channel":
        number = select(Channel.phone_number).where(Channel.id == row_id).scalar_subquery()
        queries += [
            # the channel's number, when an account has it: calls in from the gateway
            select(ProviderPhone.account_id).where(
                ProviderPhone.org_id == org_id, ProviderPhone.phone_number == number
            ),
            # SIP users on the channel: their caller ID is its number
            select(SipUser.account_id).where(
                SipUser.org_id == org_id, SipUser.channel_id == row_id
            ),
        ]
    elif kind == "user" and action == "delete":
        # A user leaves its teams and queues: the explanations of those count members.
        queries = [whippy]
    found: set[str] = set()
    for query in queries:
        found.update((await s.scalars(query)).all())
    whippy_ids = set((await s.scalars(whippy)).all())
    return sorted(found & whippy_ids)
