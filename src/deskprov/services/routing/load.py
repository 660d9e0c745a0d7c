"""Reading one provider account's routing plan: a handful of queries, no ORM objects kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    Channel,
    CredentialAttachment,
    ProviderAccount,
    ProviderPhone,
    Queue,
    QueueMember,
    SipDomain,
    SipExtension,
    SipUser,
    Team,
    TeamMember,
    User,
)
from deskprov.domain.routing import Strategy
from deskprov.providers.base import provider_for
from deskprov.services.routing.plan import ChannelRoute, Group, Key, RoutingPlan, SipEndpoint


async def load_plan(s: AsyncSession, account: ProviderAccount, whippy_suffix: str) -> RoutingPlan:
    org_id = account.org_id
    domains: dict[str, str] = {}  # credential list id -> its first attached domain
    for list_id, provider, prefix in await s.execute(
        select(CredentialAttachment.credential_list_id, SipDomain.provider, SipDomain.prefix)
        .join(SipDomain, SipDomain.id == CredentialAttachment.sip_domain_id)
        .where(CredentialAttachment.account_id == account.id)
        .order_by(CredentialAttachment.created_at, CredentialAttachment.id)
    ):
        domains.setdefault(list_id, provider_for(provider).domain_for(prefix, whippy_suffix))

    sip_users = [
        SipEndpoint(
            id=sip_id,
            username=username,
            uri=f"sip:{username}@{domains[list_id]}" if list_id in domains else None,
            user_id=user_id,
            channel_id=channel_id,
        )
        for sip_id, username, list_id, user_id, channel_id in await s.execute(
            select(
                SipUser.id,
                SipUser.username,
                SipUser.credential_list_id,
                SipUser.user_id,
                SipUser.channel_id,
            )
            .where(SipUser.account_id == account.id)
            .order_by(SipUser.created_at, SipUser.id)
        )
    ]
    keys = [
        Key(*row)
        for row in await s.execute(
            select(
                SipExtension.id,
                SipExtension.extension,
                SipExtension.label,
                SipExtension.target_type,
                SipExtension.target_ref,
            ).where(SipExtension.account_id == account.id)
        )
    ]
    channels = [
        ChannelRoute(*row)
        for row in await s.execute(
            select(
                Channel.id,
                Channel.name,
                Channel.phone_number,
                Channel.route_type,
                Channel.route_ref,
            )
            .where(Channel.org_id == org_id)
            .order_by(Channel.created_at, Channel.id)
        )
    ]
    users = await s.execute(select(User.id, User.name).where(User.org_id == org_id))
    numbers = await s.execute(
        select(ProviderPhone.phone_number, ProviderPhone.voice)
        .where(ProviderPhone.account_id == account.id)
        .order_by(ProviderPhone.created_at, ProviderPhone.id)
    )
    return RoutingPlan(
        account_id=account.id,
        sip_users=sip_users,
        keys=keys,
        groups=await _groups(s, org_id),
        channels=channels,
        user_names={user_id: name for user_id, name in users},
        numbers=[(number, bool(voice)) for number, voice in numbers],
    )


async def _groups(s: AsyncSession, org_id: str) -> list[Group]:
    """The organisation's teams and queues with their members, in creation order."""
    found: list[tuple[datetime, str, Group]] = []
    kinds: tuple[tuple[str, type[Team] | type[Queue], Any, Any], ...] = (
        ("team", Team, TeamMember, TeamMember.team_id),
        ("queue", Queue, QueueMember, QueueMember.queue_id),
    )
    for kind, model, member, group_column in kinds:
        members: dict[str, list[str]] = {}
        for group_id, user_id in await s.execute(
            select(group_column, member.user_id)
            .join(model, model.id == group_column)
            .where(model.org_id == org_id)
            .order_by(group_column, member.position)
        ):
            members.setdefault(group_id, []).append(user_id)
        columns: list[Any] = [model.id, model.name, model.extension, model.created_at]
        if model is Queue:
            columns += [Queue.strategy, Queue.ring_seconds]
        for group_id, name, extension, created_at, *how in await s.execute(
            select(*columns).where(model.org_id == org_id)
        ):
            strategy: Strategy = "sequential" if how and how[0] == "sequential" else "ring_all"
            group = Group(
                kind,
                group_id,
                name,
                extension,
                tuple(members.get(group_id, ())),
                strategy,
                how[1] if how else None,
            )
            found.append((created_at, group_id, group))
    found.sort(key=lambda item: item[:2])
    return [group for *_, group in found]
