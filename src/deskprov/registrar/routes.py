"""The routing plan's decisions as rows Kamailio reads (``kamailio_route``, ``kamailio_caller``).

Every row is the plan's own answer (``RoutingPlan.dialable``, ``inbound`` and ``caller_id``):
Kamailio only rings what a row names, the way the row says. Nothing here decides a route.

``sync_routes`` derives one ``whippy_phone`` account's rows again and writes only the
differences: all of them, or (``through``) only the dialled strings whose routes pass through
one SIP user, key, team, queue, channel or user. ``accounts_using`` names the accounts whose rows an
organisation-wide change can alter, so that such a change re-derives those alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    Channel,
    ProviderAccount,
    ProviderPhone,
    Queue,
    QueueMember,
    SipExtension,
    SipUser,
    Team,
    TeamMember,
)
from deskprov.domain.routing import Decision
from deskprov.registrar.tables import PROVIDER, KamailioCaller, KamailioRoute

if TYPE_CHECKING:
    from deskprov.services.routing.plan import RoutingPlan

FROM_PHONES = "phone"  # calls from the account's SIP users
FROM_GATEWAY = "gateway"  # calls from the PSTN gateway to the account's numbers
REASON_MAX = 160
# What a SIP reason phrase may hold (RFC 3261 reason-phrase: no quotes, angle brackets, %...).
_NOT_IN_REASON = re.compile(r"[^A-Za-z0-9 ;/?:@&=+$,\-_.!~*'()\u0080-\U0010ffff]")

Scope = set[tuple[str, str]]  # (source, dialled)


@dataclass(frozen=True)
class RouteRow:
    source: str
    dialled: str
    position: int
    strategy: str
    ring_seconds: int
    target: str
    reason: str
    # bookkeeping: what the route passes through (see KamailioRoute)
    reaches_id: str
    via_id: str
    key_id: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.source, self.dialled, self.position)


def reason_phrase(explanation: str) -> str:
    """The plan's explanation as a SIP reason phrase (it names the team, queue or key)."""
    text = _NOT_IN_REASON.sub(" ", explanation.replace('"', "'"))
    text = " ".join(text.split())
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 3] + "..."


@dataclass(frozen=True)
class Derivation:
    """An account's plan, and what the rows' bookkeeping needs besides."""

    plan: RoutingPlan
    channel_routes: dict[str, str | None]  # channel id -> the id its route names
    key_ids: dict[str, str]  # key extension -> key id

    @cached_property
    def names(self) -> set[str]:
        return set(self.plan.dialable_names())

    def all_rows(self) -> dict[tuple[str, str, int], RouteRow]:
        plan = self.plan
        decisions = [(FROM_PHONES, d) for d in plan.dialable()]
        decisions += [(FROM_GATEWAY, plan.inbound(n)) for n in plan.voice_numbers]
        return {r.key: r for source, d in decisions for r in self.rows_for(source, d)}

    def rows_in(self, scope: Scope) -> dict[tuple[str, str, int], RouteRow]:
        """The rows of these dialled strings (none for one the plan does not list)."""
        found: dict[tuple[str, str, int], RouteRow] = {}
        for source, dialled in scope:
            if source == FROM_PHONES and dialled in self.names:
                decision = self.plan.route(None, dialled)
            elif source == FROM_GATEWAY and dialled in self.plan.voice_numbers:
                decision = self.plan.inbound(dialled)
            else:
                continue
            found.update((r.key, r) for r in self.rows_for(source, decision))
        return found

    def callers(self) -> dict[str, str]:
        """The SIP users' caller IDs, by username."""
        plan = self.plan
        return {
            u.username: caller_id
            for u in plan.sip_users
            if (caller_id := plan.caller_id(u.username)) is not None
        }

    def rows_for(self, source: str, decision: Decision) -> list[RouteRow]:
        """One row per target of ``decision`` (one row and no target when nobody can answer)."""
        reaches = decision.reaches
        reaches_id = reaches.id if reaches else ""
        via_id = ""
        if reaches and reaches.type == "channel":
            via_id = self.channel_routes.get(reaches_id) or ""
        key_id = self.key_ids.get(decision.dialled, "") if source == FROM_PHONES else ""
        reason = reason_phrase(decision.explanation)

        def row(position: int, strategy: str, target: str) -> RouteRow:
            seconds = decision.ring_seconds or 0
            return RouteRow(
                source, decision.dialled, position, strategy, seconds, target, reason,
                reaches_id, via_id, key_id,
            )  # fmt: skip

        if not decision.targets:
            return [row(0, "none", "")]
        if decision.targets[0].type == "number":  # (a number is always the only target)
            return [row(0, "pstn", decision.targets[0].value)]
        strategy = decision.strategy or "ring_all"
        return [row(i, strategy, target.value) for i, target in enumerate(decision.targets)]


async def sync_routes(
    s: AsyncSession,
    suffix: str,
    account_id: str,
    *,
    through: str | None = None,
    callers: bool = True,
) -> int:
    """Make the account's route rows (and unless not ``callers``, its caller rows) what its
    plan says, writing only the differences. ``through``: only the dialled strings whose routes
    pass through this SIP user, key, team, queue, channel or user, or that it now names (its
    username, extension or number). An account with no SIP users has no rows (nobody there can
    call or be called), so its first SIP user derives them all.

    Returns how many rows were written or removed."""
    derivation = await _derivation(s, suffix, account_id)
    if derivation is None:
        gone = await _write_routes(s, account_id, {}, None)
        return gone + await _write_callers(s, account_id, {})
    scope = None
    if through is not None and await _has_rows(s, account_id):
        scope = await _scope(s, account_id, through)
    wanted = derivation.all_rows() if scope is None else derivation.rows_in(scope)
    written = await _write_routes(s, account_id, wanted, scope)
    if callers:
        written += await _write_callers(s, account_id, derivation.callers())
    return written


async def _derivation(s: AsyncSession, suffix: str, account_id: str) -> Derivation | None:
    account = await s.get(ProviderAccount, account_id)
    if account is None or not await _has_sip_users(s, account_id):
        return None
    # (imported here: the routing service's package imports services.base, whose audit hook
    # imports this module)
    from deskprov.services.routing.load import load_plan

    plan = await load_plan(s, account, suffix)
    channels = await s.execute(
        select(Channel.id, Channel.route_ref).where(Channel.org_id == account.org_id)
    )
    return Derivation(
        plan,
        channel_routes=dict(channels.all()),
        key_ids={key.extension: key.id for key in plan.keys},
    )


async def _passing(s: AsyncSession, account_id: str, ids: list[str]) -> Scope:
    """(source, dialled) of the rows that pass through any of ``ids``."""
    route = KamailioRoute
    passing = await s.execute(
        select(route.source, route.dialled).where(
            route.account_id == account_id,
            or_(route.reaches_id.in_(ids), route.via_id.in_(ids), route.key_id.in_(ids)),
        )
    )
    return {(source, dialled) for source, dialled in passing.all()}


async def _scope(s: AsyncSession, account_id: str, through: str) -> Scope:
    """(source, dialled) of the rows that pass through ``through``, and what it now names.
    For a SIP user: also the rows that rang it, and those through its owner and the owner's
    teams and queues (which ring it now)."""
    scope = await _passing(s, account_id, [through])
    sip_user = await s.execute(
        select(SipUser.username, SipUser.user_id).where(
            SipUser.id == through, SipUser.account_id == account_id
        )
    )
    for username, owner in sip_user.all():
        scope.add((FROM_PHONES, username))
        if owner is not None:
            groups = [
                *(await s.scalars(select(TeamMember.team_id).where(TeamMember.user_id == owner))),
                *(
                    await s.scalars(
                        select(QueueMember.queue_id).where(QueueMember.user_id == owner)
                    )
                ),
            ]
            scope |= await _passing(s, account_id, [owner, *groups])
    rang = select(KamailioRoute.target).where(
        KamailioRoute.account_id == account_id,
        KamailioRoute.reaches_id == through,
        KamailioRoute.target != "",
    )
    ringing = await s.execute(
        select(KamailioRoute.source, KamailioRoute.dialled).where(
            KamailioRoute.account_id == account_id, KamailioRoute.target.in_(rang)
        )
    )
    scope |= {(source, dialled) for source, dialled in ringing.all()}
    for query in (
        select(SipExtension.extension).where(
            SipExtension.id == through, SipExtension.account_id == account_id
        ),
        select(Team.extension).where(Team.id == through),
        select(Queue.extension).where(Queue.id == through),
    ):
        if name := await s.scalar(query):
            scope.add((FROM_PHONES, name))
    number = await s.scalar(select(Channel.phone_number).where(Channel.id == through))
    if number:
        scope.add((FROM_GATEWAY, number))
    return scope


async def _has_rows(s: AsyncSession, account_id: str) -> bool:
    found = await s.scalar(
        select(KamailioRoute.id).where(KamailioRoute.account_id == account_id).limit(1)
    )
    return found is not None


async def _has_sip_users(s: AsyncSession, account_id: str) -> bool:
    found = await s.scalar(select(SipUser.id).where(SipUser.account_id == account_id).limit(1))
    return found is not None


async def _write_routes(
    s: AsyncSession,
    account_id: str,
    wanted: dict[tuple[str, str, int], RouteRow],
    scope: Scope | None,
) -> int:
    """Only the differences between ``wanted`` and the rows there are (within ``scope``)."""
    table = cast(Table, KamailioRoute.__table__)  # Core: no ORM objects per row
    columns = [table.c[name] for name in RouteRow.__dataclass_fields__]
    query = select(table.c.id, *columns).where(table.c.account_id == account_id)
    if scope is not None:
        query = query.where(table.c.dialled.in_({dialled for _, dialled in scope}))
    have: dict[tuple[str, str, int], tuple[int, RouteRow]] = {}
    for row_id, *values in (await s.execute(query)).all():
        row = RouteRow(*values)
        if scope is None or (row.source, row.dialled) in scope:
            have[row.key] = (row_id, row)
    stale = [row_id for key, (row_id, row) in have.items() if wanted.get(key) != row]
    fresh = [row for key, row in wanted.items() if key not in have or have[key][1] != row]
    await _replace(s, table, stale, [{"account_id": account_id, **vars(r)} for r in fresh])
    return len(stale) + len(fresh)


async def _write_callers(s: AsyncSession, account_id: str, wanted: dict[str, str]) -> int:
    table = cast(Table, KamailioCaller.__table__)
    rows = await s.execute(
        select(table.c.id, table.c.username, table.c.caller_id).where(
            table.c.account_id == account_id
        )
    )
    have = {username: (row_id, caller_id) for row_id, username, caller_id in rows.all()}
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
