"""The registrar tables follow deskprov's data in the changing transaction; reads say what the
registrar knows, and keep working when it cannot be asked."""

from __future__ import annotations

import hashlib
import socket
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from deskprov.appkeys import SERVICES
from deskprov.registrar.routes import accounts_using, sync_routes
from deskprov.registrar.rpc import Registration
from deskprov.registrar.sync import sync_account
from deskprov.registrar.tables import (
    KamailioCaller,
    KamailioRoute,
    KamailioSubscriber,
    KamailioVersion,
)
from deskprov.settings import Settings
from tests.api.test_phone import YEALINK_MAC, YEALINK_UA, fetch
from tests.conftest import Api
from tests.factories import (
    attach,
    make_domain,
    make_extension,
    make_list,
    make_sip_user,
    make_url,
    make_user,
    routing_setup,
    sip_setup,
)

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
    return settings.model_copy(update={"kamailio_rpc_url": f"http://127.0.0.1:{closed_port()}/RPC"})


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


# --- the routing plan's rows ------------------------------------------------------------------


async def route_rows(client: TestClient, pa: str) -> dict[str, tuple[str, int, list[str], str]]:
    """Calls from phones: dialled -> (strategy, ring seconds, targets, reason)."""
    found: dict[str, tuple[str, int, list[str], str]] = {}
    async with client.app[SERVICES].deps.db.read() as s:
        for dialled, strategy, seconds, target, reason in await s.execute(
            select(
                KamailioRoute.dialled,
                KamailioRoute.strategy,
                KamailioRoute.ring_seconds,
                KamailioRoute.target,
                KamailioRoute.reason,
            )
            .where(KamailioRoute.account_id == pa, KamailioRoute.source == "phone")
            .order_by(KamailioRoute.dialled, KamailioRoute.position)
        ):
            _, _, targets, _ = found.setdefault(dialled, (strategy, seconds, [], reason))
            targets.extend([target] if target else [])
    return found


async def callers(client: TestClient, pa: str) -> dict[str, str]:
    async with client.app[SERVICES].deps.db.read() as s:
        rows = await s.execute(
            select(KamailioCaller.username, KamailioCaller.caller_id).where(
                KamailioCaller.account_id == pa
            )
        )
        return dict(rows.all())  # type: ignore[arg-type]


async def in_step(client: TestClient, *accounts: str) -> None:
    """Derived again from scratch, the accounts' route and caller rows need no change: the hook
    kept them in step (also in accounts it chose not to touch)."""
    deps = client.app[SERVICES].deps
    async with deps.db.write() as s:
        for pa in accounts:
            assert await sync_routes(s, "whippy.example", pa) == 0, pa


async def test_route_rows_are_the_plans_decisions_after_every_change(
    api: Api, client: TestClient
) -> None:
    o = await routing_setup(api, "whippy_phone")
    pa, uri = o["pa"], o["uri"]
    other = (await sip_setup(api, "whippy_phone"))["pa"]  # same organisation, nothing shared
    twilio = await routing_setup(api, "twilio", number="+14155550155")
    rows = await route_rows(client, pa)
    alice = [uri["alice"], uri["alice-desk"]]
    # The same targets, strategy and ring time as the route API answers.
    for dialled in ("101", "102", "200", "300", "400", "900", "alice", "bob"):
        answer = await api.get(f"/provider-accounts/{pa}/routes/{dialled}")
        strategy, seconds, targets, _ = rows[dialled]
        assert targets == [t["value"] for t in answer["targets"]], dialled
        assert seconds == (answer["ring_seconds"] or 0)
        pstn = answer["targets"][0]["type"] == "number"
        assert strategy == ("pstn" if pstn else answer["strategy"])
    assert rows["300"][:3] == ("sequential", 15, [*alice, uri["bob"]])
    assert rows["900"][:3] == ("pstn", 0, ["+14155550199"])
    # Alice is on the front desk channel (its number); the others have the account's number.
    assert await callers(client, pa) == {
        "alice": "+14155550100",
        "alice-desk": "+14155550100",
        "bob": "+14155550100",
    }
    assert (
        await route_rows(client, twilio["pa"]) == {} and await callers(client, twilio["pa"]) == {}
    )
    await in_step(client, pa, other)

    team, queue, desk = (
        f"/teams/{o['team']['id']}",
        f"/queues/{o['queue']['id']}",
        f"/channels/{o['desk']['id']}",
    )
    keys = {
        k["extension"]: k["id"]
        for k in (await api.get(f"/provider-accounts/{pa}/sip-extensions"))["items"]
    }
    sip_users = f"/provider-accounts/{pa}/sip-users"
    changes: list[tuple[str, str, Any]] = [
        ("POST", sip_users, None),  # a SIP user of Bob's: his teams, queues and agent keys
        ("PATCH", team, {"member_ids": [o["bob"]["id"]]}),  # a member removed
        ("PATCH", team, {"extension": "250"}),  # the team's own extension
        ("PATCH", queue, {"strategy": "ring_all", "ring_seconds": 30}),
        ("PATCH", desk, {"route": {"type": "team", "id": o["team"]["id"]}}),
        ("PATCH", desk, {"phone_number": "+14155550111"}),  # no longer the account's number
        ("PATCH", f"/users/{o['bob']['id']}", {"name": "Robert"}),
        (
            "PATCH",
            f"/provider-accounts/{pa}/sip-users/{o['sip']['bob']['id']}",
            {"channel_id": o["desk"]["id"]},
        ),
        ("DELETE", f"/provider-accounts/{pa}/sip-extensions/{keys['200']}", None),
        ("PATCH", f"/provider-accounts/{pa}/sip-extensions/{keys['101']}", {"extension": "150"}),
        ("PATCH", queue, {"extension": "650"}),
        ("PATCH", f"{sip_users}/{o['sip']['alice-desk']['id']}", {"user_id": o["bob"]["id"]}),
        ("DELETE", f"{sip_users}/{o['sip']['alice-desk']['id']}", None),
        ("PATCH", team, {"extension": None}),
    ]
    for method, path, body in changes:
        if path == sip_users:
            await make_sip_user(api, pa, o["list"]["id"], username="dan", user_id=o["bob"]["id"])
        if method == "PATCH":
            await api.patch(path, body)
        elif method == "DELETE":
            await api.delete(path)
        await in_step(client, pa, other)
    rows = await route_rows(client, pa)
    assert "200" not in rows and "250" not in rows
    dan = uri["bob"].replace("bob@", "dan@")
    assert rows["300"][:3] == ("ring_all", 30, [uri["alice"], uri["bob"], dan])
    assert rows["400"][2] == [uri["bob"], dan] and "Robert" not in rows["400"][3]
    assert "150" in rows and "101" not in rows
    assert (
        rows["102"][3]
        == "102 is the extension of the key 'Key 102': rings agent Alice's 1 SIP user(s) at once"
    )
    assert (await callers(client, pa))["bob"] == "+14155550111"
    # A team nobody is in: one row, no target, the plan's reason.
    await api.patch(team, {"member_ids": []})
    await make_extension(
        api, pa, {"type": "team", "id": o["team"]["id"]}, extension="201", label="Sales"
    )
    assert (await route_rows(client, pa))["201"] == (
        "none",
        0,
        [],
        "201 is the extension of the key 'Sales': team Sales has no members: nobody can answer",
    )
    # A user deleted leaves the teams and queues it was in.
    carol = await make_user(api, name="Carol")
    await api.patch(team, {"member_ids": [carol["id"]]})
    await api.delete(f"/users/{carol['id']}")
    await in_step(client, pa, other)
    # A password change writes no route (and the SIP users' rows go with them).
    await api.patch(
        f"/provider-accounts/{pa}/sip-users/{o['sip']['bob']['id']}",
        {"password": "An0ther-Passw0rd"},
    )
    await in_step(client, pa, other)
    assert (await route_rows(client, other)) and (await callers(client, other)) == {}


async def test_organisation_wide_changes_touch_the_accounts_that_use_them(
    api: Api, client: TestClient
) -> None:
    first, second = (await sip_setup(api, "whippy_phone")), (await sip_setup(api, "whippy_phone"))
    quiet = await api.post("/teams", {"name": "Quiet", "member_ids": [first["user"]["id"]]})
    await make_extension(api, first["pa"], {"type": "team", "id": quiet["id"]}, extension="300")
    loud = await api.post("/queues", {"name": "Loud", "extension": "600"})
    desk = await api.post("/channels", {"name": "Desk"})
    deps = client.app[SERVICES].deps

    async def using(kind: str, row_id: str, action: str = "update") -> list[str]:
        async with deps.db.read() as s:
            return await accounts_using(s, api.org_id, kind, row_id, action)

    assert await using("team", quiet["id"]) == [first["pa"]]  # its key is in the first
    assert await using("queue", loud["id"]) == sorted(
        [first["pa"], second["pa"]]
    )  # dialled anywhere
    assert await using("channel", desk["id"]) == []
    await api.patch(
        f"/provider-accounts/{second['pa']}/sip-users/{second['sip_user']['id']}",
        {"channel_id": desk["id"]},
    )
    assert await using("channel", desk["id"]) == [second["pa"]]  # its SIP user's caller ID
    assert await using("user", first["user"]["id"]) == []
    assert await using("user", first["user"]["id"], "delete") == sorted([first["pa"], second["pa"]])
