"""What a phone's configuration is made of: the URL user's lines in the provider account and the
memory keys they see. Read with SQLAlchemy Core through a ``Reader``, so that the phone endpoint
(hot path) and the preview share one definition of every query.

An account's keys, their BLF targets and its list-to-domain map are the same for every phone of the
account: they are read once per data version (``AccountView``) and shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select

from deskprov.db.hot import Reader
from deskprov.db.models import (
    CredentialAttachment,
    ProviderAccount,
    SipDomain,
    SipExtension,
    SipUser,
    User,
)
from deskprov.db.models import (
    PhoneSettings as PhoneSettingsRow,
)
from deskprov.domain.config import KeyKind, Line, MemoryKey, PhoneData, PhoneSettings
from deskprov.providers.base import provider_for
from deskprov.security.secretbox import SecretBox, sip_password_binding
from deskprov.services.phone_settings import COLUMNS, StoredSettings, stored_settings

NO_POSITION = 100  # keys without a position come after every positioned key


@dataclass(frozen=True)
class AccountKey:
    key: MemoryKey
    owner_id: str | None  # None: every phone of the account; else only that user's
    order: tuple[int, str]


@dataclass(frozen=True)
class AccountView:
    """The parts of a configuration that every phone of one provider account shares."""

    domains: dict[str, str]  # credential list id -> where phones register for its first domain
    keys: tuple[AccountKey, ...]  # sorted by position, then extension
    settings: StoredSettings = field(default_factory=StoredSettings)
    # PhoneSettings per URL time zone (None: the account's), made on first use
    _for_phones: dict[str | None, PhoneSettings] = field(default_factory=dict, compare=False)

    def keys_for(self, user_id: str) -> tuple[MemoryKey, ...]:
        return tuple(k.key for k in self.keys if k.owner_id in (None, user_id))

    def settings_for(self, box: SecretBox, timezone: str | None, year: int) -> PhoneSettings:
        """The settings a phone gets (``timezone``: its URL's own), worked out once per zone
        for every phone of the account (the admin password opened once, too)."""
        found = self._for_phones.get(timezone)
        if found is None:
            found = self.settings.for_phone(box, timezone, year)
            self._for_phones[timezone] = found
        return found


async def account_view(reader: Reader, account_id: str, whippy_suffix: str) -> AccountView:
    domains: dict[str, str] = {}
    for list_id, provider, prefix, edge in await reader.all(
        select(
            CredentialAttachment.credential_list_id,
            SipDomain.provider,
            SipDomain.prefix,
            ProviderAccount.edge,
        )
        .join(SipDomain, SipDomain.id == CredentialAttachment.sip_domain_id)
        .join(ProviderAccount, ProviderAccount.id == CredentialAttachment.account_id)
        .where(CredentialAttachment.account_id == account_id)
        .order_by(CredentialAttachment.created_at, CredentialAttachment.id)
    ):
        domains.setdefault(
            list_id, provider_for(provider).registrar_for(prefix, whippy_suffix, edge)
        )

    rows = await reader.all(
        select(
            SipExtension.id,
            SipExtension.extension,
            SipExtension.label,
            SipExtension.subtype,
            SipExtension.scope,
            SipExtension.owner_id,
            SipExtension.position,
            SipExtension.target_type,
            SipExtension.target_ref,
        ).where(SipExtension.account_id == account_id)
    )
    usernames = (
        await _blf_usernames(reader, account_id, rows) if await _has_blf(reader, account_id) else {}
    )
    keys = []
    for ext_id, extension, label, subtype, scope, owner_id, position, t_type, t_ref in rows:
        username = usernames.get((t_type, t_ref))
        kind: KeyKind
        if subtype == "blind_transfer":
            kind, dial = "blind_transfer", extension
        elif username:
            kind, dial = "blf", username
        else:
            kind, dial = "speed_dial", extension
        keys.append(
            AccountKey(
                key=MemoryKey(
                    extension=extension, label=label, kind=kind, dial=dial, source_id=ext_id
                ),
                owner_id=owner_id if scope == "user" else None,
                order=(position or NO_POSITION, extension),
            )
        )
    keys.sort(key=lambda k: k.order)
    settings = await reader.all(select(*COLUMNS).where(PhoneSettingsRow.account_id == account_id))
    return AccountView(
        domains=domains,
        keys=tuple(keys),
        settings=stored_settings(settings[0] if settings else None),
    )


async def _has_blf(reader: Reader, account_id: str) -> bool:
    """Whether the account's provider lets keys watch SIP users (else they are speed dials of
    their extension, which the routing plan resolves)."""
    rows = await reader.all(
        select(ProviderAccount.provider).where(ProviderAccount.id == account_id)
    )
    return bool(rows) and provider_for(rows[0][0]).supports_blf


async def _blf_usernames(
    reader: Reader, account_id: str, rows: Sequence[Any]
) -> dict[tuple[str, str], str]:
    """SIP-user and agent targets that resolve to a SIP user of this account: its username.

    An agent resolves to the first SIP user (by creation) that they own in the account.
    """
    sip_ids = {r.target_ref for r in rows if r.target_type == "sip_user"}
    agent_ids = {r.target_ref for r in rows if r.target_type == "agent"}
    found: dict[tuple[str, str], str] = {}
    if sip_ids:
        for sid, username in await reader.all(
            select(SipUser.id, SipUser.username).where(
                SipUser.id.in_(sip_ids), SipUser.account_id == account_id
            )
        ):
            found[("sip_user", sid)] = username
    if agent_ids:
        for uid, username in await reader.all(
            select(SipUser.user_id, SipUser.username)
            .where(SipUser.user_id.in_(agent_ids), SipUser.account_id == account_id)
            .order_by(SipUser.created_at, SipUser.id)
        ):
            found.setdefault(("agent", str(uid)), username)
    return found


USER_LINES = (
    select(
        SipUser.id,
        SipUser.username,
        SipUser.password_sealed,
        SipUser.credential_list_id,
        User.name,
    )
    .join(User, User.id == SipUser.user_id)
    .where(
        SipUser.account_id == bindparam("account_id"),
        SipUser.user_id == bindparam("user_id"),
        SipUser.password_sealed.is_not(None),  # (imported, password not set yet: no line)
    )
    .order_by(SipUser.created_at, SipUser.id)
)


async def phone_data(
    reader: Reader,
    box: SecretBox,
    account: AccountView,
    *,
    account_id: str,
    user_id: str,
    data_version: int,
) -> PhoneData:
    """One line per SIP user the user owns in the account whose list is attached to a domain."""
    rows = await reader.all(USER_LINES, {"account_id": account_id, "user_id": user_id})
    usable = [r for r in rows if r[3] in account.domains]
    lines = tuple(
        Line(
            index=i,
            username=username,
            password=box.open(sealed, binding=sip_password_binding(sip_id)),
            domain=account.domains[list_id],
            display_name=name,
            label=name,
        )
        for i, (sip_id, username, sealed, list_id, name) in enumerate(usable, 1)
    )
    return PhoneData(lines=lines, keys=account.keys_for(user_id), data_version=data_version)
