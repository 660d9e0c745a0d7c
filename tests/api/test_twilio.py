"""twilio accounts against the strict local Twilio: SIP objects are made there, refusals change
nothing on either side, a failure after a Twilio call is taken back, a slow Twilio holds no lock
of ours, provider-sync finds and repairs drift and imports an existing account, edges."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from deskprov.app import create_app
from deskprov.appkeys import SERVICES
from deskprov.security.keyring import Keyring
from deskprov.services.organisation import create_organisation
from deskprov.settings import Settings
from tests import phone_parsers
from tests.api.test_phone import YEALINK_MAC, YEALINK_UA, fetch
from tests.conftest import Api, Clock, with_settings
from tests.factories import (
    attach,
    make_account,
    make_domain,
    make_extension,
    make_list,
    make_sip_user,
    make_url,
    make_user,
    sip_setup,
)
from tests.fakes.twilio import ACCOUNT_SID, OTHER_ACCOUNT_SID, Console, FakeTwilio

PASSWORD = "Sup3rSecretPass"
KINDS = ("registrations", "calls")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def state_here(api: Api, pa: str) -> dict[str, Any]:
    """Our state of an account, in the shape of FakeTwilio.sip_state(): what Twilio should hold."""
    base = f"/provider-accounts/{pa}"
    domains = (await api.get(f"{base}/sip-domains?limit=500"))["items"]
    lists = (await api.get(f"{base}/credential-lists?limit=500"))["items"]
    users = (await api.get(f"{base}/sip-users?limit=500"))["items"]
    attachments = (await api.get(f"{base}/credential-attachments?limit=500"))["items"]
    domain_sids = {d["id"]: d["provider_sid"] for d in domains}
    list_sids = {cl["id"]: cl["provider_sid"] for cl in lists}
    credentials = {}
    for u in users:
        revealed = await api.post(f"{base}/sip-users/{u['id']}/reveal-password", status=200)
        credentials[u["provider_sid"]] = (
            list_sids[u["credential_list_id"]],
            u["username"],
            sha(revealed["password"]),
        )
    return {
        "domains": {
            d["provider_sid"]: (
                d["domain"],
                d["name"],
                f"http://deskprov.test/hooks/twilio/{pa}/voice",
                True,
            )
            for d in domains
        },
        "lists": {cl["provider_sid"]: cl["name"] for cl in lists},
        "credentials": credentials,
        "mappings": {
            (domain_sids[a["sip_domain_id"]], list_sids[a["credential_list_id"]], kind)
            for a in attachments
            for kind in KINDS
        },
    }


async def assert_same(api: Api, pa: str, fake: FakeTwilio) -> dict[str, Any]:
    ours = await state_here(api, pa)
    assert fake.sip_state() == ours
    return ours


async def test_the_seed_walk_leaves_twilio_equal_to_ours(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    s = await sip_setup(api)
    pa = s["pa"]
    assert s["domain"]["provider_sid"].startswith("SD")
    assert s["list"]["provider_sid"].startswith("CL")
    assert s["sip_user"]["provider_sid"].startswith("CR")
    assert s["sip_user"]["password_unknown"] is False
    bob = await make_sip_user(api, pa, s["list"]["id"], username="bob", password="B0b-Passw0rd-x")
    ours = await assert_same(api, pa, fake)
    assert len(ours["mappings"]) == 2  # registrations and calls

    # Rename, password, a second list and domain, a move, an attachment moved to the new domain.
    base = f"/provider-accounts/{pa}"
    await api.patch(f"{base}/sip-domains/{s['domain']['id']}", {"name": "Head office"})
    await api.patch(f"{base}/credential-lists/{s['list']['id']}", {"name": "Desks"})
    await api.patch(f"{base}/sip-users/{s['sip_user']['id']}", {"password": "N3w-Passw0rd-1"})
    second_list = await make_list(api, pa, name="Reception")
    second_domain = await make_domain(api, pa, name="Branch")
    moved = await api.patch(
        f"{base}/sip-users/{bob['id']}", {"credential_list_id": second_list["id"]}
    )
    assert moved["provider_sid"] != bob["provider_sid"]  # deleted from one list, made in the other
    att = await attach(api, pa, s["domain"]["id"], second_list["id"])
    await api.patch(
        f"{base}/credential-attachments/{att['id']}", {"sip_domain_id": second_domain["id"]}
    )
    await assert_same(api, pa, fake)

    # Taken apart in reverse dependency order; Twilio ends empty.
    for a in (await api.get(f"{base}/credential-attachments"))["items"]:
        await api.delete(f"{base}/credential-attachments/{a['id']}")
    for u in (await api.get(f"{base}/sip-users"))["items"]:
        await api.delete(f"{base}/sip-users/{u['id']}")
    for d in (await api.get(f"{base}/sip-domains"))["items"]:
        await api.delete(f"{base}/sip-domains/{d['id']}")
    for cl in (await api.get(f"{base}/credential-lists"))["items"]:
        await api.delete(f"{base}/credential-lists/{cl['id']}")
    assert await assert_same(api, pa, fake) == {
        "domains": {},
        "lists": {},
        "credentials": {},
        "mappings": set(),
    }


async def test_whippy_accounts_never_call_twilio(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    s = await sip_setup(api, "whippy_phone")
    assert s["domain"]["provider_sid"] is None and s["sip_user"]["provider_sid"] is None
    await api.delete(f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}")
    assert fake.requests == []


async def test_refusals_change_nothing_on_either_side(
    api: Api, fake_twilio: tuple[FakeTwilio, TestServer]
) -> None:
    fake, server = fake_twilio
    s = await sip_setup(api)
    pa = s["pa"]
    base = f"/provider-accounts/{pa}"
    before, sent = await assert_same(api, pa, fake), len(fake.requests)

    # Domain names are global at Twilio: another customer's name is ours to refuse.
    await Console(str(server.make_url("")), OTHER_ACCOUNT_SID).call(
        "POST", "/SIP/Domains.json", {"DomainName": "taken.sip.twilio.com"}
    )
    err = await api.post(f"{base}/sip-domains", {"name": "x", "prefix": "taken"}, status=409)
    assert err["error"]["fields"] == {"prefix": "already in use at Twilio"}

    # Twilio's limits are our rules on twilio accounts, refused before anything is sent.
    sent = len(fake.requests)
    err = await api.post(f"{base}/sip-domains", {"name": "n" * 65, "prefix": "long"}, status=422)
    assert err["error"]["fields"] == {"name": "at most 64 characters on twilio accounts"}
    err = await api.post(f"{base}/credential-lists", {"name": s["list"]["name"]}, status=409)
    assert err["error"]["fields"] == {"name": "already taken in this account"}
    err = await api.patch(
        f"{base}/credential-lists/{s['list']['id']}", {"name": "x" * 65}, status=422
    )
    assert "name" in err["error"]["fields"]
    err = await api.post(
        f"{base}/sip-users",
        {"username": "weak", "password": "weakpassword1", "credential_list_id": s["list"]["id"]},
        status=422,
    )
    assert err["error"]["fields"] == {"password": "must contain an upper-case letter"}
    assert len(fake.requests) == sent

    # Twilio's own refusal (a limit it counts), failing, down: 502 or our code, nothing changed.
    console = Console(str(server.make_url("")))
    for n in range(99):
        await console.call("POST", "/SIP/Domains.json", {"DomainName": f"mine-{n}.sip.twilio.com"})
    err = await api.post(f"{base}/sip-domains", {"name": "x", "prefix": "one-more"}, status=409)
    assert "100 SIP domains" in err["error"]["message"]
    fake.failing = True
    err = await api.post(f"{base}/credential-lists", {"name": "New"}, status=502)
    assert err["error"]["code"] == "provider_error"
    fake.failing, fake.down = False, True
    await api.patch(
        f"{base}/sip-users/{s['sip_user']['id']}", {"password": "0ther-Passw0rd"}, status=502
    )
    fake.down = False
    for d in [d for d in fake.account.domains.values() if d["domain_name"].startswith("mine-")]:
        await console.call("DELETE", f"/SIP/Domains/{d['sid']}.json")
    assert await assert_same(api, pa, fake) == before


async def test_a_failure_after_the_twilio_call_is_taken_back(
    api: Api, fake_twilio: tuple[FakeTwilio, TestServer]
) -> None:
    fake, _ = fake_twilio
    s = await sip_setup(api)
    pa = s["pa"]
    base = f"/provider-accounts/{pa}"
    other_list = await make_list(api, pa)
    before = await assert_same(api, pa, fake)

    # Two admins add "carol" at once, to two lists (Twilio allows that; we do not). The first
    # is made at Twilio and held there; the second commits meanwhile; the first's commit finds
    # the name taken, so its credential is deleted at Twilio again.
    held = fake.hold("POST", f"/CredentialLists/{s['list']['provider_sid']}/Credentials.json")
    first = asyncio.create_task(
        api.post(
            f"{base}/sip-users",
            {"username": "carol", "password": PASSWORD, "credential_list_id": s["list"]["id"]},
            status=409,
        )
    )
    await asyncio.wait_for(held.reached.wait(), 5)
    winner = await make_sip_user(api, pa, other_list["id"], username="carol")
    held.release()
    err = await first
    assert err["error"]["fields"] == {"username": "already taken"}
    ours = await assert_same(api, pa, fake)
    assert set(ours["credentials"]) == set(before["credentials"]) | {winner["provider_sid"]}

    # A delete made at Twilio while someone makes an extension point at the SIP user: the
    # commit finds it in use, so the credential is made again at Twilio and its new SID kept.
    held = fake.hold("DELETE", f"/Credentials/{winner['provider_sid']}.json")
    deleting = asyncio.create_task(api.delete(f"{base}/sip-users/{winner['id']}", status=409))
    await asyncio.wait_for(held.reached.wait(), 5)
    await make_extension(api, pa, {"type": "sip_user", "id": winner["id"]})
    held.release()
    err = await deleting
    assert err["error"]["code"] == "in_use"
    again = await api.get(f"{base}/sip-users/{winner['id']}")
    assert again["provider_sid"] not in (None, winner["provider_sid"])
    await assert_same(api, pa, fake)

    # An attachment whose second mapping Twilio refuses: the first mapping is taken back.
    domain = await make_domain(api, pa)
    fake.fail_next("POST", "/Auth/Calls/CredentialListMappings.json")
    await api.post(
        f"{base}/credential-attachments",
        {"sip_domain_id": domain["id"], "credential_list_id": other_list["id"]},
        status=502,
    )
    await assert_same(api, pa, fake)

    # Two admins set alice's password at once: both reach Twilio, one commits, the other's
    # commit finds the password changed and takes its own back. Twilio must end with the
    # password that was committed, not the one from before (it keeps a digest: no sync could
    # see the difference, and alice's phone would not register).
    alice = s["sip_user"]
    held = fake.hold("POST", f"/Credentials/{alice['provider_sid']}.json")
    racing = [
        asyncio.create_task(
            api.client.patch(
                f"/api/v1{base}/sip-users/{alice['id']}",
                json={"password": password},
                headers={"Authorization": f"Bearer {api.key}"},
            )
        )
        for password in ("R4ce-Passw0rd-1", "R4ce-Passw0rd-2")
    ]
    while held.count < 2:
        await asyncio.sleep(0.01)
    held.release()
    assert sorted(r.status for r in await asyncio.gather(*racing)) == [200, 409]
    await assert_same(api, pa, fake)
    report = await api.get(f"{base}/provider-sync")
    assert report["missing_at_provider"] == report["unknown_at_provider"] == []
    assert report["different"] == []  # no pending change was left behind


@pytest.mark.parametrize("what", ["buy", "sip_domain"])
async def test_a_slow_twilio_holds_no_lock(
    what: str,
    api: Api,
    other_api: Api,
    client: TestClient,
    fake_twilio: tuple[FakeTwilio, TestServer],
) -> None:
    """While Twilio takes its time (held until we let it answer), another organisation's
    writes and a phone's first boot (it binds its MAC) go through at once."""
    fake, _ = fake_twilio
    pa = (await make_account(api))["id"]
    theirs = await sip_setup(other_api, "whippy_phone")
    url = await make_url(other_api, theirs["pa"], theirs["user"]["id"], "yealink")
    if what == "buy":
        held = fake.hold("POST", "/IncomingPhoneNumbers.json")
        slow = api.post(
            f"/provider-accounts/{pa}/phones",
            {"setup_type": "bought", "phone_number": "+14155550101"},
        )
    else:
        held = fake.hold("POST", "/SIP/Domains.json")
        slow = api.post(f"/provider-accounts/{pa}/sip-domains", {"name": "x", "prefix": "slow"})
    task = asyncio.create_task(slow)
    await asyncio.wait_for(held.reached.wait(), 5)

    async def at_once() -> None:
        await other_api.post("/users", {"name": "Dana", "email": "dana@example.com"})
        await make_sip_user(other_api, theirs["pa"], theirs["list"]["id"])
        boot = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
        assert boot.status == 200 and PASSWORD.encode() in await boot.read()

    await asyncio.wait_for(at_once(), 2)  # (SQLite's busy timeout is 10 s)
    bound = await other_api.get(f"/provider-accounts/{theirs['pa']}/provisioning-urls/{url['id']}")
    assert bound["mac"] == YEALINK_MAC
    assert not task.done()
    held.release()
    made = await task
    assert made["id"]


async def test_provider_sync_finds_and_repairs_drift(
    api: Api, fake_twilio: tuple[FakeTwilio, TestServer]
) -> None:
    fake, server = fake_twilio
    fake.page_cap = 2  # every list read takes several pages
    s = await sip_setup(api)
    pa = s["pa"]
    base = f"/provider-accounts/{pa}"
    await make_sip_user(api, pa, s["list"]["id"], username="bob")
    await make_sip_user(api, pa, s["list"]["id"], username="eve")
    ours = await assert_same(api, pa, fake)
    clean = await api.get(f"{base}/provider-sync")
    assert (clean["missing_at_provider"], clean["unknown_at_provider"], clean["different"]) == (
        [],
        [],
        [],
    )

    # Behind our back: a rename, a credential and a mapping deleted, a stranger list added,
    # the domain's webhook pointed elsewhere.
    console = Console(str(server.make_url("")))
    domain_sid, list_sid = s["domain"]["provider_sid"], s["list"]["provider_sid"]
    await console.call(
        "POST",
        f"/SIP/Domains/{domain_sid}.json",
        {"FriendlyName": "Renamed", "VoiceUrl": "https://elsewhere.example/voice"},
    )
    await console.call(
        "DELETE",
        f"/SIP/CredentialLists/{list_sid}/Credentials/{s['sip_user']['provider_sid']}.json",
    )
    await console.call(
        "DELETE", f"/SIP/Domains/{domain_sid}/Auth/Calls/CredentialListMappings/{list_sid}.json"
    )
    stranger = await console.call("POST", "/SIP/CredentialLists.json", {"FriendlyName": "Stranger"})

    report = await api.get(f"{base}/provider-sync")
    assert {(i["type"], i["id"]) for i in report["missing_at_provider"]} == {
        ("sip_user", s["sip_user"]["id"]),
        (
            "credential_attachment",
            (await api.get(f"{base}/credential-attachments"))["items"][0]["id"],
        ),
    }
    assert [(i["type"], i["provider_sid"]) for i in report["unknown_at_provider"]] == [
        ("credential_list", stranger["sid"])
    ]
    (different,) = report["different"]
    assert different["id"] == s["domain"]["id"]
    assert "Renamed" in different["detail"] and "elsewhere.example" in different["detail"]

    viewer = api.as_key((await api.post("/api-keys", {"name": "v", "role": "viewer"}))["key"])
    await viewer.get(f"{base}/provider-sync", status=403)
    await api.post(f"{base}/provider-sync", {}, status=422)

    repaired = await api.post(f"{base}/provider-sync", {"repair": True}, status=200)
    assert repaired["missing_at_provider"] == repaired["unknown_at_provider"] == []
    assert repaired["different"] == []
    assert len(repaired["done"]) == 4  # user made, mapping made, domain set, stranger deleted
    after = await assert_same(api, pa, fake)
    assert after["credentials"].keys() != ours["credentials"].keys()  # alice has a new SID
    events = (await api.get("/audit-events?limit=500"))["items"]
    assert any(e["action"] == "provider_account.sync_repair" for e in events)


async def test_import_an_existing_twilio_account(
    api: Api, client: TestClient, fake_twilio: tuple[FakeTwilio, TestServer]
) -> None:
    fake, server = fake_twilio
    console = Console(str(server.make_url("")))
    domain = await console.call(
        "POST",
        "/SIP/Domains.json",
        {"DomainName": "existing.sip.twilio.com", "FriendlyName": "Old office"},
    )
    cred_list = await console.call("POST", "/SIP/CredentialLists.json", {"FriendlyName": "Old"})
    await console.call(
        "POST",
        f"/SIP/CredentialLists/{cred_list['sid']}/Credentials.json",
        {"Username": "frank", "Password": "Fr4nk-Passw0rd"},
    )
    for kind in ("Registrations", "Calls"):
        await console.call(
            "POST",
            f"/SIP/Domains/{domain['sid']}/Auth/{kind}/CredentialListMappings.json",
            {"CredentialListSid": cred_list["sid"]},
        )
    pa = (await make_account(api))["id"]
    base = f"/provider-accounts/{pa}"
    report = await api.get(f"{base}/provider-sync")
    assert sorted(i["type"] for i in report["unknown_at_provider"]) == [
        "credential_attachment",
        "credential_attachment",
        "credential_list",
        "sip_domain",
        "sip_user",
    ]

    imported = await api.post(f"{base}/provider-sync", {"import": True}, status=200)
    assert len(imported["done"]) == 4
    # What Twilio holds is ours now, except the domain's webhook and registration (repair sets
    # them) and the password (Twilio never tells it).
    assert [i["id"] for i in imported["different"]] == [
        (await api.get(f"{base}/sip-domains"))["items"][0]["id"]
    ]
    assert imported["missing_at_provider"] == imported["unknown_at_provider"] == []
    (frank,) = (await api.get(f"{base}/sip-users"))["items"]
    assert frank["username"] == "frank" and frank["password_unknown"] is True
    assert frank["domains"] == ["existing.sip.twilio.com"]
    err = await api.post(f"{base}/sip-users/{frank['id']}/reveal-password", status=409)
    assert "set one" in err["error"]["message"]
    # A URL for frank's owner gives the phone no line until a password is set.
    owner = await make_user(api)
    await api.patch(f"{base}/sip-users/{frank['id']}", {"user_id": owner["id"]})
    url = await make_url(api, pa, owner["id"], "yealink")
    boot = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert boot.status == 200
    accounts = phone_parsers.yealink_accounts(phone_parsers.yealink_cfg(await boot.read()))
    assert accounts[1]["enable"] == "0" and accounts[1]["user_name"] == ""  # (stated, unused)
    frank = await api.patch(f"{base}/sip-users/{frank['id']}", {"password": "Fr4nk-N3w-Passw0rd"})
    assert frank["password_unknown"] is False
    boot = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert b"account.1.user_name = frank" in await boot.read()
    await api.post(f"{base}/provider-sync", {"repair": True}, status=200)
    await assert_same(api, pa, fake)


async def test_edge_accounts_register_through_their_edge(
    api: Api, client: TestClient, fake_twilio: Any
) -> None:
    fake, _ = fake_twilio
    err = await make_account_with(api, edge="mars", status=422)
    assert err["error"]["fields"]["edge"].startswith("one of ashburn")
    err = await api.post(
        "/provider-accounts",
        {"name": "w", "provider": "whippy_phone", "edge": "dublin"},
        status=422,
    )
    assert err["error"]["fields"] == {"edge": "only twilio accounts have an edge"}
    account = await make_account_with(api, edge="ashburn")
    assert account["edge"] == "ashburn"
    pa = account["id"]
    domain = await make_domain(api, pa, prefix="edgy")
    assert domain["domain"] == "edgy.sip.twilio.com"  # its name at Twilio
    assert fake.sip_state()["domains"][domain["provider_sid"]][0] == "edgy.sip.twilio.com"
    cred_list = await make_list(api, pa)
    await attach(api, pa, domain["id"], cred_list["id"])
    user = await make_user(api)
    await make_sip_user(api, pa, cred_list["id"], user_id=user["id"])
    url = await make_url(api, pa, user["id"], "yealink")
    body = await (await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)).read()
    assert b"edgy.sip.ashburn.twilio.com" in body
    await api.patch(f"/provider-accounts/{pa}", {"edge": None})
    body = await (await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)).read()
    assert b"edgy.sip.twilio.com" in body and b"ashburn" not in body


async def make_account_with(api: Api, *, status: int = 201, **fields: Any) -> Any:
    body = {
        "name": "Edge",
        "provider": "twilio",
        "credentials": {"account_sid": ACCOUNT_SID, "auth_token": "f" * 32},
        **fields,
    }
    return await api.post("/provider-accounts", body, status=status)


async def impatient_api(settings: Settings, clock: Clock, aiohttp_client: Any) -> Api:
    """The API of an app that waits 0.3 s for Twilio."""
    app = create_app(
        with_settings(settings, twilio_timeout=0.3), clock=clock, keyring=Keyring.generate()
    )
    client = await aiohttp_client(app)
    created = await create_organisation(client.app[SERVICES].deps, "Acme")
    return Api(client, created.api_key, created.organisation_id)


async def test_a_timeout_is_a_provider_error_and_sync_finds_what_it_left(
    settings: Settings,
    clock: Clock,
    aiohttp_client: Any,
    fake_twilio: tuple[FakeTwilio, TestServer],
) -> None:
    """Twilio answering too late may have done the work all the same: 502 here, and
    provider-sync reports the change as in progress, then (two minutes on) repairs it."""
    fake, _ = fake_twilio
    api = await impatient_api(settings, clock, aiohttp_client)
    pa = (await make_account(api))["id"]
    base = f"/provider-accounts/{pa}"
    held = fake.hold("POST", "/SIP/Domains.json")  # made at Twilio, the answer held back
    err = await api.post(f"{base}/sip-domains", {"name": "Late", "prefix": "late"}, status=502)
    assert "timed out" in err["error"]["message"]
    held.release()
    assert (await api.get(f"{base}/sip-domains"))["items"] == []
    report = await api.get(f"{base}/provider-sync")
    (late,) = report["unknown_at_provider"]
    assert late["type"] == "sip_domain" and late["detail"].startswith("late.sip.twilio.com")
    assert report["different"][0]["detail"].startswith("in progress: sip_domain.create")
    await api.post(f"{base}/provider-sync", {"repair": True}, status=409)
    clock.advance(180)
    repaired = await api.post(f"{base}/provider-sync", {"repair": True}, status=200)
    assert repaired["unknown_at_provider"] == repaired["different"] == []
    assert fake.sip_state()["domains"] == {}


async def test_provider_sync_compares_repairs_and_imports_numbers(
    settings: Settings,
    clock: Clock,
    aiohttp_client: Any,
    fake_twilio: tuple[FakeTwilio, TestServer],
) -> None:
    """Numbers: a buy and a delete interrupted after Twilio did them (timed out here), a bought
    number's calls sent elsewhere, numbers released or given a new SID behind our back, and a
    number only Twilio knows. Repair takes the bought number in, finishes the delete, points the
    calls back and says what it cannot do; import takes the stranger in; nothing is released."""
    fake, server = fake_twilio
    console = Console(str(server.make_url("")))
    api = await impatient_api(settings, clock, aiohttp_client)
    pa = (await make_account(api))["id"]
    base, phones = f"/provider-accounts/{pa}", f"/provider-accounts/{pa}/phones"
    ours = f"http://deskprov.test/hooks/twilio/{pa}/voice"
    diverted = await api.post(phones, {"setup_type": "bought", "phone_number": "+12125550100"})
    deleted = await api.post(phones, {"setup_type": "bought", "phone_number": "+14155550102"})
    lost = await api.post(
        phones,
        {
            "setup_type": "manual",
            "phone_number": "+14155550777",
            "sid": fake.own_number("+14155550777"),
        },
    )
    moved = await api.post(
        phones,
        {
            "setup_type": "manual",
            "phone_number": "+14155550999",
            "sid": fake.own_number("+14155550999"),
        },
    )
    stranger = fake.own_number("+14155550888", origin="hosted")

    # A buy and a release Twilio carries out and answers too late.
    fake.hold("POST", "/IncomingPhoneNumbers.json")
    fake.hold("DELETE", "/IncomingPhoneNumbers/")
    await api.post(phones, {"setup_type": "bought", "phone_number": "+14155550101"}, status=502)
    await api.delete(f"{phones}/{deleted['id']}", status=502)
    for held in fake.holds:
        held.release()
    bought = fake.owned("+14155550101")
    assert bought is not None and fake.owned("+14155550102") is None
    # Behind our back: calls sent elsewhere, one number released, one released and owned again.
    await console.call(
        "POST",
        f"/IncomingPhoneNumbers/{diverted['sid']}.json",
        {"VoiceUrl": "https://elsewhere.example/voice"},
    )
    await console.call("DELETE", f"/IncomingPhoneNumbers/{lost['sid']}.json")
    await console.call("DELETE", f"/IncomingPhoneNumbers/{moved['sid']}.json")
    again = fake.own_number("+14155550999")

    def of(items: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
        return {(i["id"] or i["provider_sid"], i["detail"].split(" started")[0]) for i in items}

    report = await api.get(f"{base}/provider-sync")
    assert of(report["missing_at_provider"]) == {
        (lost["id"], f"+14155550777: {lost['sid']} is not in the provider account"),
        (deleted["id"], f"+14155550102: {deleted['sid']} is not in the provider account"),
    }
    assert of(report["unknown_at_provider"]) == {
        (bought["sid"], "+14155550101"),
        (stranger, "+14155550888"),
    }
    (buy_id,) = [i["id"] for i in report["different"] if "provider_phone.buy" in i["detail"]]
    assert of(report["different"]) == {
        (diverted["id"], "calls go to https://elsewhere.example/voice"),
        (moved["id"], f"+14155550999 is {again} at the provider, not {moved['sid']}"),
        (buy_id, "in progress: provider_phone.buy of +14155550101"),
        (deleted["id"], "in progress: provider_phone.release of +14155550102"),
    }
    for action in ("repair", "import"):
        await api.post(f"{base}/provider-sync", {action: True}, status=409)

    clock.advance(180)
    report = await api.get(f"{base}/provider-sync")
    assert (
        deleted["id"],
        "+14155550102: released at the provider by a delete that was interrupted",
    ) in of(report["missing_at_provider"])
    assert (
        bought["sid"],
        "+14155550101: bought by a change that was interrupted before deskprov recorded it",
    ) in of(report["unknown_at_provider"])
    repaired = await api.post(f"{base}/provider-sync", {"repair": True}, status=200)
    assert of(repaired["missing_at_provider"]) == {
        (lost["id"], f"+14155550777: {lost['sid']} is not in the provider account")
    }
    assert of(repaired["unknown_at_provider"]) == {(stranger, "+14155550888")}  # not released
    assert repaired["different"] == []
    done = {i["detail"].split(":")[0] for i in repaired["done"]}
    assert done == {
        "calls sent to deskprov again",
        "taken in as a bought phone",
        "deleted here",
        "SID taken from the provider",
        "not repaired",
    }
    items = {p["phone_number"]: p for p in (await api.get(phones))["items"]}
    assert set(items) == {"+12125550100", "+14155550777", "+14155550999", "+14155550101"}
    assert items["+14155550101"]["setup_type"] == "bought"
    assert items["+14155550101"]["sid"] == bought["sid"]
    assert items["+14155550999"]["sid"] == again
    pointed = fake.owned("+12125550100")
    assert pointed is not None and pointed["voice_url"] == ours

    imported = await api.post(f"{base}/provider-sync", {"import": True}, status=200)
    assert [(i["provider_sid"], i["detail"]) for i in imported["done"]] == [
        (stranger, "imported as manual")
    ]
    assert imported["unknown_at_provider"] == []
    (hosted,) = [p for p in (await api.get(phones))["items"] if p["sid"] == stranger]
    assert hosted["setup_type"] == "manual" and hosted["hosted"] is True
    # The phone whose number is gone can be deleted here (there is nothing left to release).
    await api.delete(f"{phones}/{lost['id']}")

    # An application set on a bought number takes its calls before any voice URL; Twilio's
    # API (as described) cannot clear it, so a repair says so and changes nothing.
    application = "AP" + "12" * 16
    await console.call(
        "POST",
        f"/IncomingPhoneNumbers/{diverted['sid']}.json",
        {"VoiceApplicationSid": application},
    )
    repaired = await api.post(f"{base}/provider-sync", {"repair": True}, status=200)
    assert of(repaired["different"]) == {(diverted["id"], f"calls go to {application}")}
    assert [i["detail"].split(":")[0] for i in repaired["done"]] == ["not repaired"]
    assert {n["phone_number"] for n in fake.account.numbers.values()} == {
        "+12125550100",
        "+14155550101",
        "+14155550888",
        "+14155550999",
    }


async def test_admin_pages_say_what_happens_at_twilio(
    api: Api, client: TestClient, fake_twilio: Any
) -> None:
    """The few admin-page parts of this work: a refused credential shows on the field, the edge
    is picked on the account form, and the Phones tab says a bought number is released."""
    signed = await client.post("/admin/sign-in", data={"api_key": api.key}, allow_redirects=False)
    assert signed.status == 303
    page = await (await client.get("/admin/accounts")).text()
    assert '<option value="frankfurt">' in page
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refused = await client.post(
        "/admin/accounts",
        data={
            "_csrf": csrf,
            "_action": "provider-accounts.create",
            "name": "Twilio",
            "provider": "twilio",
            "credentials.account_sid": ACCOUNT_SID,
            "credentials.auth_token": "not-the-token",
            "edge": "dublin",
        },
    )
    assert refused.status == 422
    assert re.search(
        r'class="field-error"[^>]* data-for="credentials">refused by Twilio', await refused.text()
    )
    made = await client.post(
        "/admin/accounts",
        data={
            "_csrf": csrf,
            "_action": "provider-accounts.create",
            "name": "Twilio",
            "provider": "twilio",
            "credentials.account_sid": ACCOUNT_SID,
            "credentials.auth_token": "f" * 32,
            "edge": "dublin",
        },
    )
    assert made.status == 200
    (account,) = (await api.get("/provider-accounts"))["items"]
    assert account["edge"] == "dublin"
    pa = account["id"]
    edit = f"/admin/accounts/{pa}/edit"
    cleared = await client.post(
        edit,
        data={
            "_csrf": csrf,
            "_action": "provider-accounts.update",
            "_id": pa,
            "name": "Twilio",
            "_nulls": "edge",
            "edge": "",
        },
    )
    assert cleared.status == 200
    assert (await api.get(f"/provider-accounts/{pa}"))["edge"] is None
    await api.post(
        f"/provider-accounts/{pa}/phones", {"setup_type": "bought", "phone_number": "+14155550101"}
    )
    phones = await (await client.get(f"/admin/accounts/{pa}/phones")).text()
    assert "Delete releases the number at Twilio, for good." in phones
    assert "Delete +14155550101 and release it at Twilio for good" in phones


async def test_the_stand_in_refuses_what_twilio_would(
    fake_twilio: tuple[FakeTwilio, TestServer],
) -> None:
    """The stand-in itself: a request Twilio's API description does not allow is recorded as a
    violation (the fixture fails the test on any), wrong auth and Twilio's own rules are
    answered in Twilio's error shape."""
    fake, server = fake_twilio
    url = str(server.make_url(""))
    base = f"{url}/2010-04-01/Accounts/{ACCOUNT_SID}"
    async with ClientSession() as http:
        for method, path, form in (
            ("POST", "/SIP/Domains.json", {"DomainName": "a.sip.twilio.com", "Colour": "red"}),
            ("POST", "/SIP/Domains.json", {"FriendlyName": "no domain name"}),
            ("POST", "/SIP/Domains.json", {"DomainName": "a.sip.twilio.com", "VoiceMethod": "PUT"}),
            ("PUT", "/SIP/Domains.json", {"DomainName": "a.sip.twilio.com"}),
            ("GET", "/SIP/Domains/SD123.json", None),
            ("GET", "/SIP/Trunks.json", None),
            # Twilio's description has no way to clear a number's application: a SID or nothing.
            ("POST", f"/IncomingPhoneNumbers/PN{'0' * 32}.json", {"VoiceApplicationSid": ""}),
            ("GET", "/IncomingPhoneNumbers.json?Colour=red", None),
        ):
            async with http.request(method, base + path, data=form) as resp:
                assert resp.status == 400
        assert len(fake.violations) == 8
        fake.violations.clear()
        async with http.get(base + "/SIP/Domains.json") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "code": 20003,
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            }
    console = Console(url)
    made = await console.call("POST", "/SIP/CredentialLists.json", {"FriendlyName": "L"})
    creds = f"{base}/SIP/CredentialLists/{made['sid']}/Credentials.json"
    async with ClientSession(headers=console.headers) as http:
        async with http.post(creds, data={"Username": "u", "Password": "short"}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 21240
        async with http.post(
            f"{base}/SIP/CredentialLists.json", data={"FriendlyName": "L"}
        ) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 21240
    assert fake.violations == []
