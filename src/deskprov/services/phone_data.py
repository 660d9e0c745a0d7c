"""What a phone's configuration is made of, read in one place for the phone endpoint and the
preview: the URL user's lines in the provider account and the memory keys they see."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import (
    CredentialAttachment,
    Organisation,
    SipDomain,
    SipExtension,
    SipUser,
    User,
)
from deskprov.domain.config import KeyKind, Line, MemoryKey, PhoneData
from deskprov.providers.base import provider_for
from deskprov.security.secretbox import SecretBox

PASSWORD_BINDING = "sip_user:{}"
NO_POSITION = 100  # keys without a position come after every positioned key


async def first_domains(s: AsyncSession, list_ids: set[str], whippy_suffix: str) -> dict[str, str]:
    """For each credential list, the full name of the first domain it is attached to."""
    if not list_ids:
        return {}
    rows = await s.execute(
        select(CredentialAttachment.credential_list_id, SipDomain.provider, SipDomain.prefix)
        .join(SipDomain, SipDomain.id == CredentialAttachment.sip_domain_id)
        .where(CredentialAttachment.credential_list_id.in_(list_ids))
        .order_by(CredentialAttachment.created_at, CredentialAttachment.id)
    )
    found: dict[str, str] = {}
    for list_id, provider, prefix in rows:
        found.setdefault(list_id, provider_for(provider).domain_for(prefix, whippy_suffix))
    return found


async def phone_data(
    s: AsyncSession,
    box: SecretBox,
    *,
    org_id: str,
    account_id: str,
    user_id: str,
    whippy_suffix: str,
) -> PhoneData:
    user = await s.scalar(select(User).where(User.id == user_id, User.org_id == org_id))
    version = await s.scalar(select(Organisation.data_version).where(Organisation.id == org_id))
    sip_users = list(
        (
            await s.scalars(
                select(SipUser)
                .where(SipUser.account_id == account_id, SipUser.user_id == user_id)
                .order_by(SipUser.created_at, SipUser.id)
            )
        ).all()
    )
    domains = await first_domains(s, {u.credential_list_id for u in sip_users}, whippy_suffix)
    name = user.name if user else ""
    lines = tuple(
        Line(
            index=i,
            username=u.username,
            password=box.open(u.password_sealed, binding=PASSWORD_BINDING.format(u.id)),
            domain=domains[u.credential_list_id],
            display_name=name,
            label=name,
        )
        for i, u in enumerate((u for u in sip_users if u.credential_list_id in domains), 1)
    )
    return PhoneData(
        lines=lines,
        keys=await memory_keys(s, account_id, user_id),
        data_version=int(version or 0),
    )


async def memory_keys(s: AsyncSession, account_id: str, user_id: str) -> tuple[MemoryKey, ...]:
    """The account-wide keys and the user's own, by position then extension."""
    rows = list(
        (
            await s.scalars(
                select(SipExtension).where(
                    SipExtension.account_id == account_id,
                    (SipExtension.scope == "provider_account")
                    | ((SipExtension.scope == "user") & (SipExtension.owner_id == user_id)),
                )
            )
        ).all()
    )
    rows.sort(key=lambda r: (r.position or NO_POSITION, r.extension))
    blf_users = await _blf_usernames(s, account_id, rows)
    keys = []
    for row in rows:
        username = blf_users.get((row.target_type, row.target_ref))
        kind: KeyKind
        if row.subtype == "blind_transfer":
            kind, dial = "blind_transfer", row.extension
        elif username:
            kind, dial = "blf", username
        else:
            kind, dial = "speed_dial", row.extension
        keys.append(
            MemoryKey(
                extension=row.extension, label=row.label, kind=kind, dial=dial, source_id=row.id
            )
        )
    return tuple(keys)


async def _blf_usernames(
    s: AsyncSession, account_id: str, rows: list[SipExtension]
) -> dict[tuple[str, str], str]:
    """SIP-user and agent targets that resolve to a SIP user of this account: its username."""
    sip_ids = {r.target_ref for r in rows if r.target_type == "sip_user"}
    agent_ids = {r.target_ref for r in rows if r.target_type == "agent"}
    found: dict[tuple[str, str], str] = {}
    if sip_ids:
        for sid, username in await s.execute(
            select(SipUser.id, SipUser.username).where(
                SipUser.id.in_(sip_ids), SipUser.account_id == account_id
            )
        ):
            found[("sip_user", sid)] = username
    if agent_ids:
        for uid, username in await s.execute(
            select(SipUser.user_id, SipUser.username)
            .where(SipUser.user_id.in_(agent_ids), SipUser.account_id == account_id)
            .order_by(SipUser.created_at.desc(), SipUser.id.desc())
        ):
            found[("agent", str(uid))] = username  # the earliest SIP user is written last and wins
    return found
