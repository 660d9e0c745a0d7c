"""Registration status from deskprov's registrar (Kamailio), added to reads of SIP users and
devices after their transaction has ended: one JSON-RPC request per read, and a read that cannot
ask still answers (``registrar: "unreachable"``, ``registered: null``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, select

from deskprov.db.models import ProviderAccount, ProvisioningUrl, SipUser
from deskprov.registrar.rpc import KamailioRpc, RegistrarUnreachable, Registration
from deskprov.registrar.tables import PROVIDER, KamailioSubscriber
from deskprov.schemas.account import RegistrationView, SipUserView
from deskprov.schemas.organisation import DeviceView
from deskprov.services.base import Deps, Scope, iso_or_none


def registrar(deps: Deps) -> KamailioRpc:
    return KamailioRpc(deps.http, deps.settings.kamailio_rpc_url)


async def for_sip_users(deps: Deps, scope: Scope, views: list[SipUserView]) -> list[SipUserView]:
    """``registrations`` and ``registrar`` on SIP users of a ``whippy_phone`` account."""
    async with deps.db.read() as s:
        provider = await s.scalar(
            select(ProviderAccount.provider).where(ProviderAccount.id == scope.account_id)
        )
    if provider != PROVIDER or not views:
        return views
    aors = {f"{v.username}@{domain}" for v in views for domain in v.domains}
    try:
        found = await registrar(deps).registrations(aors, deps.clock())
        state = "ok"
    except RegistrarUnreachable:
        found, state = {}, "unreachable"
    return [
        view.model_copy(
            update={
                "registrations": [
                    _view(r) for d in view.domains for r in found.get(f"{view.username}@{d}", [])
                ],
                "registrar": state,
            }
        )
        for view in views
    ]


def _view(registration: Registration) -> RegistrationView:
    return RegistrationView(
        contact=registration.contact,
        user_agent=registration.user_agent,
        expires_at=iso_or_none(registration.expires_at),
    )


async def for_devices(deps: Deps, views: list[DeviceView]) -> list[DeviceView]:
    """``registered`` on phones provisioned for a ``whippy_phone`` account: whether one of the
    lines their URL gives them has a contact from that phone (its MAC or address)."""
    url_ids = {v.provisioning_url_id for v in views if v.provisioning_url_id}
    if not url_ids:
        return views
    aors: dict[str, set[str]] = defaultdict(set)  # provisioning URL id -> its lines' AoRs
    async with deps.db.read() as s:
        for url_id, username, domain in await s.execute(
            select(ProvisioningUrl.id, KamailioSubscriber.username, KamailioSubscriber.domain)
            .join(
                SipUser,
                and_(
                    SipUser.account_id == ProvisioningUrl.account_id,
                    SipUser.user_id == ProvisioningUrl.user_id,
                ),
            )
            .join(KamailioSubscriber, KamailioSubscriber.sip_user_id == SipUser.id)
            .where(ProvisioningUrl.id.in_(url_ids))
        ):
            aors[url_id].add(f"{username}@{domain}")
    if not aors:
        return views
    try:
        found = await registrar(deps).registrations(set().union(*aors.values()), deps.clock())
    except RegistrarUnreachable:
        return views
    decorated = []
    for view in views:
        lines = aors.get(view.provisioning_url_id or "")
        if lines:
            contacts = [r for aor in lines for r in found.get(aor, [])]
            registered = any(r.is_device(view.mac, view.vendor, view.last_ip) for r in contacts)
            view = view.model_copy(update={"registered": registered})
        decorated.append(view)
    return decorated
