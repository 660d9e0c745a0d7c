"""deskprov's SIP service end to end: the real Kamailio with the configuration deskprov
generates, reading the test's database (SQLite, or PostgreSQL as a read-only role), and sipp
playing the phones with the credentials they were served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests import phone_parsers
from tests.api.test_phone import (
    FANVIL_MAC,
    FANVIL_UA,
    POLYCOM_MAC,
    POLYCOM_UA,
    YEALINK_MAC,
    YEALINK_UA,
    fetch,
)
from tests.conftest import Api
from tests.factories import attach, make_list, make_sip_user, make_url, make_user, sip_setup
from tests.sip import scenarios
from tests.sip.harness import Kamailio, Phone, free_port, needs_kamailio, udp_exchange

pytestmark = needs_kamailio
PASSWORD = "Sup3rSecretPass"


async def served_credentials(client: TestClient, url: dict[str, Any]) -> tuple[str, str, str]:
    """(username, password, domain) of line 1, from the file the vendor's phone fetches."""
    vendor = url["vendor"]
    if vendor == "polycom":
        resp = await fetch(client, url, f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)
        p = phone_parsers.polycom_params(await resp.read())
        return p["reg.1.auth.userId"], p["reg.1.auth.password"], p["reg.1.server.1.address"]
    if vendor == "yealink":
        resp = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
        y = phone_parsers.yealink_cfg(await resp.read())
        return (
            y["account.1.user_name"],
            y["account.1.password"],
            y["account.1.sip_server.1.address"],
        )
    resp = await fetch(client, url, f"{FANVIL_MAC}.cfg", FANVIL_UA)
    line = phone_parsers.fanvil(await resp.read()).lines[1]
    return line.user, line.password, line.server


async def test_each_vendor_registers_with_what_it_was_served(
    api: Api, client: TestClient, kamailio: Kamailio, tmp_path: Path
) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa, sip_user = s["pa"], s["sip_user"]
    agents = {"polycom": POLYCOM_UA, "yealink": YEALINK_UA, "fanvil": FANVIL_UA}
    urls = [await make_url(api, pa, s["user"]["id"], vendor) for vendor in agents]
    devices = (await api.get("/devices"))["items"]
    assert devices == []
    for url in urls:
        username, password, domain = await served_credentials(client, url)
        assert (username, password, domain) == (
            sip_user["username"],
            PASSWORD,
            s["domain"]["domain"],
        )
        phone = Phone(kamailio, tmp_path, username, password, domain)
        agent = agents[url["vendor"]]
        # Before it registers, the devices view says the phone is not registered.
        device = next(
            d for d in (await api.get("/devices"))["items"] if d["vendor"] == url["vendor"]
        )
        assert device["registered"] is False
        (await phone.run(scenarios.register(200, user_agent=agent))).check()
        device = next(
            d for d in (await api.get("/devices"))["items"] if d["vendor"] == url["vendor"]
        )
        assert device["registered"] is True
        wrong = Phone(kamailio, tmp_path, username, "Not-the-Passw0rd", domain)
        refused = (await wrong.run(scenarios.register(403))).check()
        assert "403 Forbidden - wrong credentials" in scenarios.statuses(refused.messages)

    read = await api.get(f"/provider-accounts/{pa}/sip-users/{sip_user['id']}")
    assert read["registrar"] == "ok"
    assert sorted(r["user_agent"] for r in read["registrations"]) == sorted(agents.values())
    assert all(
        r["contact"].startswith(f"sip:{sip_user['username']}@127.0.0.1:")
        for r in read["registrations"]
    )
    assert all(r["expires_at"] for r in read["registrations"])
    listed = await api.get(f"/provider-accounts/{pa}/sip-users")
    assert [len(u["registrations"]) for u in listed["items"]] == [3]
    # The admin pages say so too: per SIP user, and on each phone.
    await client.post("/admin/sign-in", data={"api_key": api.key})
    tab = await (await client.get(f"/admin/accounts/{pa}/sip-users")).text()
    assert tab.count('<span class="state ok">yes</span>') == 3 and YEALINK_UA in tab
    devices = await (await client.get(f"/admin/devices?provider_account_id={pa}")).text()
    assert devices.count('<span class="registered">registered</span>') == 3


async def test_changes_count_at_the_next_register(
    api: Api, kamailio: Kamailio, tmp_path: Path
) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa, username, domain = s["pa"], s["sip_user"]["username"], s["domain"]["domain"]
    path = f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}"

    def phone(password: str) -> Phone:
        return Phone(kamailio, tmp_path, username, password, domain)

    (await phone(PASSWORD).run(scenarios.register(200))).check()
    # A password changed through the API: the old one is refused, the new one accepted.
    await api.patch(path, {"password": "N3w-Passw0rd-Here"})
    (await phone(PASSWORD).run(scenarios.register(403))).check()
    await kamailio.wait_for_log(f"auth: wrong credentials for {username}@{domain} from 127.0.0.1:")
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(200))).check()
    # Moved to a list attached to no domain, then back.
    lonely = await make_list(api, pa)
    await api.patch(path, {"credential_list_id": lonely["id"]})
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(403))).check()
    await api.patch(path, {"credential_list_id": s["list"]["id"]})
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(200))).check()
    # The attachment removed.
    attachments = await api.get(f"/provider-accounts/{pa}/credential-attachments")
    await api.delete(
        f"/provider-accounts/{pa}/credential-attachments/{attachments['items'][0]['id']}"
    )
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(403))).check()
    await attach(api, pa, s["domain"]["id"], s["list"]["id"])
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(200))).check()
    # Deleted.
    await api.delete(path)
    (await phone("N3w-Passw0rd-Here").run(scenarios.register(403))).check()


async def test_calls_and_busy_lamps(api: Api, kamailio: Kamailio, tmp_path: Path) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa, domain, cred_list = s["pa"], s["domain"]["domain"], s["list"]["id"]
    bob_user = await make_user(api, name="Bob")
    await make_sip_user(api, pa, cred_list, username="bob", user_id=bob_user["id"])
    await make_sip_user(api, pa, cred_list, username="carol")  # never registers
    alice = s["sip_user"]["username"]

    def phone(username: str, password: str = PASSWORD) -> Phone:
        return Phone(kamailio, tmp_path, username, password, domain)

    # Bob's phone: registered, waiting for a call on its own port.
    bob_phone = phone("bob")
    ringing = await bob_phone.start(scenarios.callee())
    register = scenarios.register(200, contact_port=str(bob_phone.port))
    (await phone("bob").run(register)).check()
    # Alice's BLF key on Bob: 200, a first NOTIFY, then one per state of Bob's call.
    watcher = await phone(alice).start(scenarios.watch(notifies=4), target="bob")
    await kamailio.wait_for_log("on behalf of sip:bob@")
    (await phone(alice).run(scenarios.call(200), target="bob", transfer_to="carol")).check()
    answered = (await ringing).check()
    # The REFER went through the proxy, inside the call, to Bob's phone.
    assert "Refer-To: <sip:carol@" in answered.messages and "Record-Route:" in answered.messages
    watched = (await watcher).check()
    assert "200 OK" in scenarios.statuses(watched.messages)[1]
    states = scenarios.dialog_states(watched.messages)
    changes = [state for i, state in enumerate(states) if i == 0 or state != states[i - 1]]
    assert changes[1:] == ["early", "confirmed", "terminated"], states

    # Unknown user, user not registered, a phone number with no gateway, another domain.
    refused = {
        "nobody": (
            404,
            "404 Not Found - not an extension, a SIP username of this account or a +E.164 number",
        ),
        "carol": (
            480,
            "480 Temporarily Unavailable - not registered: carol is a SIP username of this "
            "account: rings SIP user carol",
        ),
        "+14155550100": (403, "403 Forbidden - no PSTN gateway for calls to phone numbers"),
    }
    for target, (code, line) in refused.items():
        sipped = (await phone(alice).run(scenarios.call(code), target=target)).check()
        assert line in scenarios.statuses(sipped.messages)


async def test_no_relay_no_peeking_next_door(api: Api, kamailio: Kamailio, tmp_path: Path) -> None:
    s = await sip_setup(api, "whippy_phone")
    alice = Phone(kamailio, tmp_path, s["sip_user"]["username"], PASSWORD, s["domain"]["domain"])
    # Another account's domain (another office): its users can be neither called nor watched.
    other = await sip_setup(api, "whippy_phone")
    next_door = {
        "target": other["sip_user"]["username"],
        "target_domain": other["domain"]["domain"],
    }
    sipped = (await alice.run(scenarios.call(403), **next_door)).check()
    assert "403 Forbidden - calls go to users of your own domain" in scenarios.statuses(
        sipped.messages
    )
    sipped = (await alice.run(scenarios.watch(0, expect=403), **next_door)).check()
    assert "403 Forbidden - watch users of your own domain only" in scenarios.statuses(
        sipped.messages
    )
    # Someone else's domain: no challenge, no relay.
    stranger = Phone(kamailio, tmp_path, "mallory", "x", "relay.example")
    for method in ("INVITE", "REGISTER", "SUBSCRIBE"):
        sipped = (await stranger.run(scenarios.unauthenticated(method, 403), target="bob")).check()
        assert "403 Forbidden - not one of our domains" in scenarios.statuses(sipped.messages)
    # Nor by forging a dialog: a request "inside" a call this server never saw goes nowhere.
    elsewhere = f"bob@127.0.0.1:{free_port()}"
    for method in ("BYE", "INVITE", "MESSAGE"):
        sipped = (
            await alice.run(scenarios.forged_in_dialog(method, 403), target=elsewhere)
        ).check()
        assert "403 Forbidden - not a call through this server" in scenarios.statuses(
            sipped.messages
        )
    # The JSON-RPC answers on its own loopback socket only, not on the SIP port.
    async with aiohttp.ClientSession() as http:
        body = {"jsonrpc": "2.0", "method": "ul.dump", "id": 1}
        async with http.post(f"http://{kamailio.address}/RPC", json=body) as resp:
            assert resp.status == 403


def raw_request(method: str, cseq: str, to: str, n: int = 0) -> str:
    """A request as a hostile client writes it by hand (``[local]``: its own address)."""
    return f"""{method} sip:{to} SIP/2.0
Via: SIP/2.0/UDP [local];branch=z9hG4bK-raw-{n};rport
From: <sip:mallory@{to.partition("@")[2] or "example.com"}>;tag=raw{n}
To: <sip:{to}>
Call-ID: raw-{n}@example.com
CSeq: {cseq}
Max-Forwards: 70
Content-Length: 0

"""


async def test_malformed_requests_and_floods_are_dropped(api: Api, kamailio: Kamailio) -> None:
    s = await sip_setup(api, "whippy_phone")
    bob = f"{s['sip_user']['username']}@{s['domain']['domain']}"
    # Malformed (a CSeq that is not the request's method, or not a number): sanity answers 400
    # before anything else looks at it (a well-formed one from our domain would be challenged).
    for n, (cseq, refusal) in enumerate(
        (
            ("1 INVITE", "CSeq method does not match request method"),
            ("one SUBSCRIBE", "CSeq number is illegal"),
        )
    ):
        answers = await udp_exchange(
            kamailio, [raw_request("SUBSCRIBE", cseq, bob, n)], host="127.0.0.1", until=1
        )
        assert [a.split("\r\n")[0] for a in answers] == [f"SIP/2.0 400 {refusal}"], answers
    await kamailio.wait_for_log("sanity: malformed SIP request from 127.0.0.1:", count=2)
    # A flood from one address (40 keepalives at once): answered until pike sees the flood,
    # then dropped; another address is still answered.
    here = kamailio.address
    flood = [raw_request("OPTIONS", "1 OPTIONS", here, n) for n in range(40)]
    answered = await udp_exchange(kamailio, flood, host="127.0.0.3", seconds=1.5)
    assert 0 < len(answered) < 40 and all(" 200 Keepalive" in a for a in answered)
    await kamailio.wait_for_log("pike: flood from 127.0.0.3")
    other = await udp_exchange(
        kamailio, [raw_request("OPTIONS", "1 OPTIONS", here)], host="127.0.0.4"
    )
    assert len(other) == 1 and " 200 Keepalive" in other[0]
