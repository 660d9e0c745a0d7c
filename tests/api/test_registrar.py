"""The registrar tables follow deskprov's data in the changing transaction; reads say what the
registrar knows, and keep working when it cannot be asked."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import replace
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from deskprov.appkeys import SERVICES
from deskprov.registrar.rpc import Registration
from deskprov.registrar.sync import sync_account
from deskprov.registrar.tables import KamailioSubscriber, KamailioVersion
from deskprov.settings import Settings
from tests.api.test_phone import YEALINK_MAC, YEALINK_UA, fetch
from tests.conftest import Api
from tests.factories import attach, make_domain, make_list, make_sip_user, make_url, sip_setup

PASSWORD = "Sup3rSecretPass"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def subscribers(client: TestClient) -> set[tuple[str, str, str, str]]:
    async with client.app[SERVICES].deps.db.read() as s:
        rows = await s.execute(
            select(
                KamailioSubscriber.username,
                KamailioSubscriber.domain,
                KamailioSubscriber.ha1,
                KamailioSubscriber.ha1b,
            )
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


def row(username: str, domain: str, password: str) -> tuple[str, str, str, str]:
    return (
        username,
        domain,
        md5(f"{username}:{domain}:{password}"),
        md5(f"{username}@{domain}:{domain}:{password}"),
    )


async def test_subscriber_rows_follow_every_change(api: Api, client: TestClient) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa, username = s["pa"], s["sip_user"]["username"]
    first = s["domain"]["domain"]
    assert first.endswith(".sip.whippy.example")
    assert await subscribers(client) == {row(username, first, PASSWORD)}
    # The same list attached to a second domain: one row per domain.
    second = await make_domain(api, pa)
    await attach(api, pa, second["id"], s["list"]["id"])
    both = {row(username, first, PASSWORD), row(username, second["domain"], PASSWORD)}
    assert await subscribers(client) == both
    # A password change re-derives the digests; a refused change changes nothing.
    path = f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}"
    await api.patch(path, {"password": "An0ther-Passw0rd"})
    changed = {row(username, d, "An0ther-Passw0rd") for d in (first, second["domain"])}
    assert await subscribers(client) == changed
    await api.patch(path, {"credential_list_id": "cl_doesnotexist"}, status=404)
    await api.patch(path, {"password": "weak"}, status=422)
    assert await subscribers(client) == changed
    # The attachment to the second domain removed; then the user moved to an unattached list.
    items = (await api.get(f"/provider-accounts/{pa}/credential-attachments"))["items"]
    second_attachment = next(a for a in items if a["sip_domain_id"] == second["id"])
    await api.delete(f"/provider-accounts/{pa}/credential-attachments/{second_attachment['id']}")
    assert await subscribers(client) == {row(username, first, "An0ther-Passw0rd")}
    lonely = await make_list(api, pa)
    await api.patch(path, {"credential_list_id": lonely["id"]})
    assert await subscribers(client) == set()
    await api.patch(path, {"credential_list_id": s["list"]["id"]})
    other = await make_sip_user(api, pa, s["list"]["id"], username="other")
    assert {r[0] for r in await subscribers(client)} == {username, "other"}
    # Deleted: its rows go, the other user's stay.
    await api.delete(path)
    assert await subscribers(client) == {row("other", first, PASSWORD)}
    # Derived again from scratch (as `deskprov kamailio config` does): nothing to change.
    deps = client.app[SERVICES].deps
    async with deps.db.write() as session:
        assert await sync_account(session, deps.box, "whippy.example", pa) == 0
    assert other["username"] == "other"


async def test_other_providers_have_no_rows_and_kamailio_has_its_versions(
    api: Api, client: TestClient
) -> None:
    await sip_setup(api, "twilio")
    assert await subscribers(client) == set()
    async with client.app[SERVICES].deps.db.read() as s:
        versions = dict(
            (
                await s.execute(select(KamailioVersion.table_name, KamailioVersion.table_version))
            ).all()
        )  # type: ignore[arg-type]
    assert versions == {"kamailio_subscriber": 7}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """As the suite's, or (parametrized "down") pointing at a Kamailio that does not answer."""
    if getattr(request, "param", None) != "down":
        return settings
    return replace(settings, kamailio_rpc_url=f"http://127.0.0.1:{closed_port()}/RPC")


@pytest.mark.parametrize("settings", ["not configured", "down"], indirect=True)
async def test_reads_work_when_the_registrar_cannot_be_asked(api: Api, client: TestClient) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa = s["pa"]
    read = await api.get(f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}")
    assert (read["registrar"], read["registrations"]) == ("unreachable", [])
    listed = await api.get(f"/provider-accounts/{pa}/sip-users")
    assert [u["registrar"] for u in listed["items"]] == ["unreachable"]
    # Phones are still served, and their devices listed (registration unknown).
    url = await make_url(api, pa, s["user"]["id"], "yealink")
    resp = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert resp.status == 200 and PASSWORD.encode() in await resp.read()
    (device,) = (await api.get("/devices"))["items"]
    assert device["mac"] == YEALINK_MAC and device["registered"] is None
    # Writes answer without asking; other providers' SIP users have no registrar of ours.
    assert s["sip_user"]["registrar"] is None
    twilio = await sip_setup(api, "twilio")
    other = await api.get(f"/provider-accounts/{twilio['pa']}/sip-users")
    assert [(u["registrar"], u["registrations"]) for u in other["items"]] == [(None, [])]


NOW = datetime(2026, 12, 1, 12, 0, 0)


def contact(
    user_agent: str | None, *, instance: str | None = None, host: str = "10.0.0.7"
) -> Registration:
    return Registration(
        aor="alice@acme.sip.whippy.example",
        contact=f"sip:alice@{host}:5060;transport=udp",
        user_agent=user_agent,
        expires_at=NOW,
        received=None,
        instance=instance,
    )


def test_a_registration_is_matched_to_its_phone() -> None:
    mac = "805ec0d57d72"
    # Phones that tell their MAC are matched by it, whatever their address.
    assert contact(YEALINK_UA).is_device(mac, "yealink", "192.0.2.1")
    assert not contact("Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:01").is_device(
        mac, "yealink", "10.0.0.7"
    )
    assert contact("Fanvil X4U 2.12.1 805ec0d57d72").is_device(mac, "fanvil", None)
    polycom = contact(
        "PolycomVVX-VVX_400-UA/6.4.3.5018",
        instance="<urn:uuid:00000000-0000-1000-8000-0004f249d83f>",
    )
    assert polycom.is_device("0004f249d83f", "polycom", None)
    assert not polycom.is_device(mac, "polycom", "10.0.0.7")
    # Others by the address they fetched from, and their vendor's name in the user agent.
    silent = contact("PolycomVVX-VVX_400-UA/6.4.3.5018")
    assert silent.is_device("0004f249d83f", "polycom", "10.0.0.7")
    assert not silent.is_device("0004f249d83f", "polycom", "10.0.0.70")
    assert not silent.is_device("0004f249d83f", "yealink", "10.0.0.7")
    assert not silent.is_device("0004f249d83f", "polycom", None)
