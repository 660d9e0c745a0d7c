"""What ids stand for, for people: a name per id, and the provider account it lives in.

The admin pages show names where the API shows ids (a SIP user's owner, a device's URL, what
still uses an item a delete was refused for). One read per kind for a whole page of ids, in
the caller's organisation only: an id of another organisation is simply not named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from deskprov.db.models import (
    ApiKey,
    Channel,
    CredentialAttachment,
    CredentialList,
    ProviderAccount,
    ProviderPhone,
    ProvisioningUrl,
    Queue,
    SipDomain,
    SipExtension,
    SipUser,
    Team,
    User,
)
from deskprov.domain.roles import Actor, Role
from deskprov.providers.base import provider_for
from deskprov.services.base import Deps


@dataclass(frozen=True)
class Named:
    type: str
    id: str
    name: str
    account_id: str | None  # the provider account it belongs to (None: the organisation's)


def _label(model: Any) -> Any:
    """The column that names a row of each kind (as the pages show it)."""
    return {
        User: User.name,
        Channel: Channel.name,
        Team: Team.name,
        Queue: Queue.name,
        ApiKey: ApiKey.name,
        ProviderAccount: ProviderAccount.name,
        CredentialList: CredentialList.name,
        SipUser: SipUser.username,
        SipExtension: SipExtension.label,
        ProviderPhone: ProviderPhone.phone_number,
    }[model]


KINDS: dict[str, Any] = {
    "user": User,
    "agent": User,
    "channel": Channel,
    "team": Team,
    "queue": Queue,
    "api_key": ApiKey,
    "provider_account": ProviderAccount,
    "credential_list": CredentialList,
    "sip_user": SipUser,
    "sip_extension": SipExtension,
    "provider_phone": ProviderPhone,
    "sip_domain": SipDomain,
    "credential_attachment": CredentialAttachment,
    "provisioning_url": ProvisioningUrl,
}


class Names:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def of(self, actor: Actor, refs: Iterable[tuple[str, str | None]]) -> dict[str, Named]:
        """``{id: Named}`` for each (type, id) given; unknown types and ids are left out."""
        actor.require(Role.viewer)
        wanted: dict[str, set[str]] = {}
        for kind, row_id in refs:
            if row_id and kind in KINDS:
                wanted.setdefault(kind, set()).add(row_id)
        found: dict[str, Named] = {}
        async with self.deps.db.read() as s:
            for kind, ids in wanted.items():
                model = KINDS[kind]
                where = (model.id.in_(ids), model.org_id == actor.org_id)
                for row in (await s.scalars(select(model).where(*where))).all():
                    found[row.id] = Named(kind, row.id, await self._name(s, row), _account(row))
        return found

    async def _name(self, s: Any, row: Any) -> str:
        if isinstance(row, SipDomain):
            return provider_for(row.provider).domain_for(
                row.prefix, self.deps.settings.whippy_sip_suffix
            )
        if isinstance(row, CredentialAttachment):
            domain = await s.get(SipDomain, row.sip_domain_id)
            listed = await s.get(CredentialList, row.credential_list_id)
            suffix = self.deps.settings.whippy_sip_suffix
            where = provider_for(domain.provider).domain_for(domain.prefix, suffix)
            return f"{listed.name} on {where}"
        if isinstance(row, ProvisioningUrl):
            owner = await s.get(User, row.user_id)
            what = row.label or f"{row.vendor.capitalize()} URL"
            return f"{what} for {owner.name}" if owner else what
        return str(getattr(row, _label(type(row)).key))


def _account(row: Any) -> str | None:
    return getattr(row, "account_id", None)
