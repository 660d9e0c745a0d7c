"""The phone endpoint as phones use it: real user agents, boot sequences, binding, refusals."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from lxml import etree
from sqlalchemy import func, select

from deskprov.appkeys import BAD_TOKENS, METRICS, SERVICES
from deskprov.db.models import Device
from deskprov.services.device_log import WRITE_CHUNK, DeviceNote
from tests import phone_parsers
from tests.conftest import Api, Clock
from tests.factories import make_url, phone_setup

PASSWORD = "Sup3rSecretPass"
POLYCOM_UA = "FileTransport PolycomVVX-VVX_400-UA/6.4.3.5018 Type/Application"
POLYCOM_MAC = "0004f249d83f"
YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:d5:7d:72"
YEALINK_MAC = "805ec0d57d72"
FANVIL_UA = "Fanvil X4U 2.12.1 0c383e07e16c"
FANVIL_MAC = "0c383e07e16c"


def path_of(url: dict[str, Any]) -> str:
    return "/p/" + url["url"].split("/p/", 1)[1]


async def fetch(
    client: TestClient, url: dict[str, Any], name: str, ua: str, **headers: str
) -> ClientResponse:
    return await client.get(path_of(url) + name, headers={"User-Agent": ua, **headers})


async def expect_refused(client: TestClient, url: dict[str, Any], name: str, ua: str) -> None:
    resp = await fetch(client, url, name, ua)
    assert resp.status == 404
    assert await resp.read() == b""


def refusals(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["reason"] for e in events if e["action"] == "provisioning.refused"]


async def audit(api: Api) -> list[dict[str, Any]]:
    return (await api.get("/audit-events?limit=500"))["items"]


async def test_polycom_boot_sequence(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    url = s["urls"]["polycom"]
    master = await fetch(client, url, f"{POLYCOM_MAC}.cfg", POLYCOM_UA)
    assert master.status == 200 and master.headers["Content-Type"] == "application/xml"
    files = phone_parsers.polycom_master(await master.read())
    assert files == ["[PHONE_MAC_ADDRESS]-deskprov.cfg"]
    name = files[0].replace("[PHONE_MAC_ADDRESS]", POLYCOM_MAC)
    params = await fetch(client, url, name, POLYCOM_UA + f" (SN:{POLYCOM_MAC})")
    assert params.status == 200 and params.headers["Cache-Control"] == "no-cache"
    p = phone_parsers.polycom_params(await params.read())
    username = s["sip_user"]["username"]
    assert (p["reg.1.address"], p["reg.1.auth.userId"]) == (username, username)
    assert p["reg.1.auth.password"] == PASSWORD
    assert p["reg.1.server.1.address"] == s["domain"]["domain"]
    assert p["reg.1.displayName"] == s["user"]["name"]
    assert p["lineKey.1.category"] == "Line"
    assert (p["lineKey.2.category"], p["attendant.resourceList.1.address"]) == ("BLF", "bob")
    # Other keys are speed dials (a documented category) whose directory entries the phone
    # fetches next: the blind transfer runs an EFK macro, the others dial the extension.
    assert [p[f"lineKey.{k}.category"] for k in (3, 4, 5)] == ["SpeedDial"] * 3
    assert [p[f"lineKey.{k}.index"] for k in (3, 4, 5)] == ["1", "2", "3"]
    assert p["efk.version"] == "2" and p["efk.efklist.1.action.string"] == "600$Trefer$"
    directory = await fetch(client, url, "000000000000-directory.xml", POLYCOM_UA)
    assert directory.status == 200
    assert phone_parsers.polycom_directory(await directory.read()) == {
        1: ("Support", "!deskprov1"),
        2: ("Mobile", "900"),
        3: ("Mine", "901"),  # the user's own key
    }
    assert p["lineKey.6.category"] == "Unassigned"
    # Polycom falls back to the default master file; it carries no secret.
    default = await fetch(client, url, "000000000000.cfg", POLYCOM_UA)
    assert default.status == 200
    for absent in (
        "sip.ld",
        "2345-12600-001.sip.ld",
        f"{POLYCOM_MAC}-license.cfg",
        f"{POLYCOM_MAC}-phone.cfg",
        f"{POLYCOM_MAC}-directory.xml",  # (its own: kept when PUT, never served back)
    ):
        resp = await fetch(client, url, absent, POLYCOM_UA)
        assert resp.status == 404, absent


async def test_yealink_boot_sequence(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    url = s["urls"]["yealink"]
    for boot in (f"{YEALINK_MAC}.boot", "y000000000000.boot"):
        assert (await fetch(client, url, boot, YEALINK_UA)).status == 404
    common = await fetch(client, url, "y000000000066.cfg", YEALINK_UA)
    assert common.status == 200
    assert common.headers["Content-Type"] == "text/plain; charset=utf-8"
    c = phone_parsers.yealink_cfg(await common.read())
    assert c["features.enhanced_dss_keys.enable"] == "1"
    mac_file = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    y = phone_parsers.yealink_cfg(await mac_file.read())
    assert y["account.1.user_name"] == s["sip_user"]["username"]
    assert y["account.1.password"] == PASSWORD
    assert y["account.1.sip_server.1.address"] == s["domain"]["domain"]
    assert (y["linekey.2.type"], y["linekey.2.value"]) == ("16", "bob")
    assert (y["linekey.3.type"], y["linekey.3.value"]) == ("73", "600$Trefer$")
    assert (y["linekey.4.type"], y["linekey.4.value"]) == ("13", "900")
    assert y["linekey.5.value"] == "901"


@pytest.mark.parametrize(
    ("ua", "dialect"),
    [
        (FANVIL_UA, "sysconf"),
        ("Fanvil X4 2.10.2.6887 0c383e07e16c", "voip_config"),
        ("Fanvil X99 1.0 0c383e07e16c", "sysconf"),
    ],
)
async def test_fanvil_dialect_from_user_agent(
    api: Api, client: TestClient, ua: str, dialect: str
) -> None:
    s = await phone_setup(api)
    url = s["urls"]["fanvil"]
    resp = await fetch(client, url, f"{FANVIL_MAC}.cfg", ua)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/xml"
    f = phone_parsers.fanvil(await resp.read())
    assert f.dialect == dialect
    assert f.lines[1].user == s["sip_user"]["username"] and f.lines[1].password == PASSWORD
    assert f.lines[1].server == s["domain"]["domain"]
    values = [k.value for k in f.keys if k.type != "0"]
    assert values == ["SIP1", "bob@1/bc", "600@1/a", "900@1/f", "901@1/f"]
    assert (await fetch(client, url, "F0V00X600000.cfg", ua)).status == 404


def provisioning_address(vendor: str, body: bytes) -> str:
    """The URL a file tells its phone to keep provisioning from."""
    if vendor == "polycom":
        return phone_parsers.polycom_params(body)["device.prov.serverName"]
    if vendor == "yealink":
        return phone_parsers.yealink_cfg(body)["static.auto_provision.server.url"]
    return str(etree.fromstring(body).findtext("ap/FlashServerIP"))


@pytest.mark.parametrize("expires_in", [None, 3600])
@pytest.mark.parametrize(
    ("vendor", "name", "ua"),
    [
        ("polycom", f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA),
        ("yealink", "y000000000066.cfg", YEALINK_UA),
        ("fanvil", f"{FANVIL_MAC}.cfg", FANVIL_UA),
    ],
)
async def test_files_point_the_phone_at_its_own_url(
    api: Api, client: TestClient, vendor: str, name: str, ua: str, expires_in: int | None
) -> None:
    """The address written into a file is the URL's own, whether it comes from the token the
    phone sent (a first render) or is signed again (a preview, a file rendered for another
    request of the URL)."""
    s = await phone_setup(api)
    made = {} if expires_in is None else {"expires_in": expires_in}
    fetched, previewed = [
        await make_url(api, s["pa"], s["user"]["id"], vendor, **made) for _ in "ab"
    ]
    resp = await fetch(client, fetched, name, ua)
    assert resp.status == 200
    assert provisioning_address(vendor, await resp.read()) == fetched["url"]
    preview = await api.get(
        f"/provider-accounts/{s['pa']}/provisioning-urls/{previewed['id']}/preview?file={name}"
    )
    assert provisioning_address(vendor, preview["content"].encode()) == previewed["url"]


@pytest.mark.parametrize(
    ("vendor", "name", "ua"),
    [
        ("polycom", f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA),
        ("yealink", f"{YEALINK_MAC}.cfg", YEALINK_UA),
        ("fanvil", f"{FANVIL_MAC}.cfg", FANVIL_UA),
    ],
)
async def test_etag_304_and_byte_identical(
    api: Api, client: TestClient, vendor: str, name: str, ua: str
) -> None:
    s = await phone_setup(api)
    url = s["urls"][vendor]
    first = await fetch(client, url, name, ua)
    body = await first.read()
    etag = first.headers["ETag"]
    again = await fetch(client, url, name, ua)
    assert await again.read() == body and again.headers["ETag"] == etag
    cached = await fetch(client, url, name, ua, **{"If-None-Match": etag})
    assert cached.status == 304 and await cached.read() == b""
    # A change through the API is served on the very next fetch.
    await api.patch(
        f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}",
        {"password": "Changed-Passw0rd"},
    )
    changed = await fetch(client, url, name, ua, **{"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert b"Changed-Passw0rd" in await changed.read()


async def test_cached_files_hold_what_phones_of_a_model_share_once(
    api: Api, client: TestClient
) -> None:
    """A T46S file states 16 accounts and 267 keys, most of them the same unused ones in every
    phone's file: kept once for all of them, ten phones' files weigh far less than ten files."""
    s = await phone_setup(api)
    urls = [await make_url(api, s["pa"], s["user"]["id"], "yealink") for _ in range(10)]
    bodies = []
    for n, url in enumerate(urls):
        ua = f"Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:{n:02x}"
        resp = await fetch(client, url, f"805ec00000{n:02x}.cfg", ua)
        assert resp.status == 200
        bodies.append(await resp.read())
        again = await fetch(client, url, f"805ec00000{n:02x}.cfg", ua)  # (from the cache)
        assert await again.read() == bodies[-1]
    files = client.app[SERVICES].phone.files
    assert len(files) == 10
    assert files.used < 3 * len(bodies[0]), (files.used, len(bodies[0]))  # (joined: 10 x ~14 kB)


async def test_files_that_read_no_phone_data_are_rendered_once_for_all(
    api: Api, client: TestClient
) -> None:
    s = await phone_setup(api)
    other = await make_url(api, s["pa"], s["user"]["id"], "polycom")
    renders = client.app[METRICS].renders
    before = renders["polycom"]
    masters = [
        await fetch(client, url, f"0004f2{n:06x}.cfg", POLYCOM_UA)
        for n, url in enumerate((s["urls"]["polycom"], other))
    ]
    assert [m.status for m in masters] == [200, 200]
    # The master file names the account's firmware for the model: rendered once per account and
    # time zone (a URL with its own zone gets its own), not once per URL.
    assert renders["polycom"] - before == 1
    elsewhere = await make_url(api, s["pa"], s["user"]["id"], "polycom", timezone="Asia/Tokyo")
    master = await fetch(client, elsewhere, "0004f2000009.cfg", POLYCOM_UA)
    assert master.status == 200 and renders["polycom"] - before == 2
    yealinks = [s["urls"]["yealink"], await make_url(api, s["pa"], s["user"]["id"], "yealink")]
    before = renders["yealink"]
    commons = [await fetch(client, url, "y000000000066.cfg", YEALINK_UA) for url in yealinks]
    assert [c.status for c in commons] == [200, 200]
    assert renders["yealink"] - before == 2  # per URL: it names the URL, nothing else
    again = [await fetch(client, url, "y000000000066.cfg", YEALINK_UA) for url in yealinks]
    assert [c.status for c in again] == [200, 200] and renders["yealink"] - before == 2


async def test_first_mac_binds_the_url(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    url = s["urls"]["yealink"]
    assert url["mac"] is None
    assert (await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)).status == 200
    bound = await api.get(f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}")
    assert bound["mac"] == YEALINK_MAC
    other_ua = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:99"
    await expect_refused(client, url, "805ec0000099.cfg", other_ua)
    assert refusals(await audit(api)) == ["other_mac"]
    devices = {d["mac"]: d for d in (await api.get("/devices"))["items"]}
    assert devices[YEALINK_MAC]["last_result"] == "ok"
    assert devices[YEALINK_MAC]["model"] == "T46S"
    assert devices[YEALINK_MAC]["firmware"] == "66.86.0.15"
    assert devices[YEALINK_MAC]["provisioning_url_id"] == url["id"]
    assert devices[YEALINK_MAC]["user_id"] == s["user"]["id"]
    assert devices["805ec0000099"]["last_result"] == "refused:other_mac"


async def test_binds_at_once_go_together_and_exactly_one_phone_wins(
    api: Api, client: TestClient
) -> None:
    """Many phones at once: binds of different URLs share one transaction, and phones racing
    for one URL in the same batch still leave exactly one winner per URL."""
    setups = [await phone_setup(api) for _ in range(3)]
    macs = [f"805ec0bb{i:04x}" for i in range(12)]

    async def phone(i: int, mac: str) -> int:
        ua = "Yealink SIP-T46S 66.86.0.15 " + ":".join(mac[j : j + 2] for j in range(0, 12, 2))
        return (await fetch(client, setups[i % 3]["urls"]["yealink"], f"{mac}.cfg", ua)).status

    statuses = await asyncio.gather(*(phone(i, mac) for i, mac in enumerate(macs)))
    assert sorted(statuses) == [200] * 3 + [404] * 9
    winners = {mac for mac, status in zip(macs, statuses, strict=True) if status == 200}
    bound = set()
    for i, s in enumerate(setups):
        url = s["urls"]["yealink"]
        mac = (await api.get(f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}"))["mac"]
        assert mac in macs[i::3]  # one of the phones that asked for this URL
        bound.add(mac)
    assert bound == winners
    binds = [e["detail"]["mac"] for e in await audit(api) if e["action"] == "provisioning_url.bind"]
    assert sorted(binds) == sorted(winners)
    # Refusals are counted per URL, address and reason: one event per URL, 9 refusals in all.
    refused = [e for e in await audit(api) if e["action"] == "provisioning.refused"]
    assert sorted(e["target_id"] for e in refused) == sorted(
        s["urls"]["yealink"]["id"] for s in setups
    )
    assert {e["detail"]["reason"] for e in refused} == {"other_mac"}
    assert sum(e["detail"]["count"] for e in refused) == 9


async def test_refusals_are_empty_404s_and_audited(
    api: Api, client: TestClient, clock: Clock
) -> None:
    s = await phone_setup(api)
    pa, user = s["pa"], s["user"]["id"]
    name = f"{YEALINK_MAC}.cfg"
    good = s["urls"]["yealink"]
    token = good["url"].split("/p/")[1].rstrip("/")
    for bad in ("x", "A" * 54, token[:-1] + ("A" if token[-1] != "A" else "B"), token + "A"):
        resp = await client.get(f"/p/{bad}/{name}", headers={"User-Agent": YEALINK_UA})
        assert resp.status == 404 and await resp.read() == b""

    revoked = await make_url(api, pa, user, "yealink")
    await api.delete(f"/provider-accounts/{pa}/provisioning-urls/{revoked['id']}")
    await expect_refused(client, revoked, name, YEALINK_UA)

    wrong_vendor = s["urls"]["polycom"]
    await expect_refused(client, wrong_vendor, f"{POLYCOM_MAC}-deskprov.cfg", YEALINK_UA)

    expiring = await make_url(api, pa, user, "yealink", expires_in=60)
    assert (await fetch(client, expiring, name, YEALINK_UA)).status == 200
    clock.advance(61)
    await expect_refused(client, expiring, name, YEALINK_UA)

    bound = await make_url(api, pa, user, "fanvil", mac=FANVIL_MAC)
    await expect_refused(client, bound, "0c383e000001.cfg", "Fanvil X4U 2.12.1 0c383e000001")

    mismatched = await make_url(api, pa, user, "yealink")
    await expect_refused(client, mismatched, "805ec0000001.cfg", YEALINK_UA)

    assert sorted(refusals(await audit(api))) == sorted(
        ["revoked", "wrong_vendor", "expired", "other_mac", "mac_mismatch"]
    )
    devices = {d["mac"]: d["last_result"] for d in (await api.get("/devices"))["items"]}
    assert devices["0c383e000001"] == "refused:other_mac"
    for event in await audit(api):
        assert token not in str(event) and PASSWORD not in str(event)


async def test_polycom_uploads_are_kept_never_served(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    url = s["urls"]["polycom"]
    headers = {"User-Agent": POLYCOM_UA}
    for name in (f"{POLYCOM_MAC}-app.log", f"{POLYCOM_MAC}-phone.cfg"):
        resp = await client.put(path_of(url) + name, data=b"log line\n", headers=headers)
        assert resp.status == 204
        assert (await fetch(client, url, name, POLYCOM_UA)).status == 404
    big = await client.put(
        path_of(url) + f"{POLYCOM_MAC}-boot.log",
        data=io.BytesIO(b"x" * (1024 * 1024 + 1)),
        headers=headers,
    )
    assert big.status == 413
    not_upload = await client.put(
        path_of(url) + f"{POLYCOM_MAC}-deskprov.cfg", data=b"<x/>", headers=headers
    )
    assert not_upload.status == 404
    yealink = await client.put(
        path_of(s["urls"]["yealink"]) + f"{YEALINK_MAC}-local.cfg",
        data=b"x",
        headers={"User-Agent": YEALINK_UA},
    )
    assert yealink.status == 404
    # The configuration did not change.
    p = phone_parsers.polycom_params(
        await (await fetch(client, url, f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)).read()
    )
    assert p["reg.1.auth.password"] == PASSWORD


async def test_bad_tokens_are_limited_valid_fetches_never(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    limit = client.app[BAD_TOKENS].limit
    for i in range(limit):
        resp = await client.get(f"/p/{'A' * 54}/{YEALINK_MAC}.cfg")
        assert resp.status == 404, i
    resp = await client.get(f"/p/{'A' * 54}/{YEALINK_MAC}.cfg")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    # Valid fetches from the same address go on: a whole office may share it.
    for _ in range(3):
        assert (
            await fetch(client, s["urls"]["yealink"], f"{YEALINK_MAC}.cfg", YEALINK_UA)
        ).status == 200


HOSTILE = "Zoë & <Ops> \"quoted\" 'x' 日本"  # 28 characters


async def test_hostile_text_round_trips(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    await api.patch(f"/users/{s['user']['id']}", {"name": HOSTILE})
    label = ("<&>\"'ü" * 6)[:32]
    await api.patch(
        f"/provider-accounts/{s['pa']}/sip-extensions/{s['keys'][0]['id']}", {"label": label}
    )
    password = "P4ss&<\"'>word"
    await api.patch(
        f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}", {"password": password}
    )
    p = phone_parsers.polycom_params(
        await (
            await fetch(client, s["urls"]["polycom"], f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)
        ).read()
    )
    assert p["reg.1.displayName"] == HOSTILE and p["reg.1.auth.password"] == password
    assert p["attendant.resourceList.1.label"] == label
    y = phone_parsers.yealink_cfg(
        await (await fetch(client, s["urls"]["yealink"], f"{YEALINK_MAC}.cfg", YEALINK_UA)).read()
    )
    assert y["account.1.display_name"] == HOSTILE and y["account.1.password"] == password
    assert y["linekey.2.label"] == label
    f = phone_parsers.fanvil(
        await (await fetch(client, s["urls"]["fanvil"], f"{FANVIL_MAC}.cfg", FANVIL_UA)).read()
    )
    assert f.lines[1].display_name == HOSTILE and f.lines[1].password == password
    assert next(k.title for k in f.keys if k.type == "1") == label


async def test_no_secret_reaches_the_logs(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = await phone_setup(api)
    for vendor, name, ua in (
        ("polycom", f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA),
        ("yealink", f"{YEALINK_MAC}.cfg", YEALINK_UA),
        ("fanvil", f"{FANVIL_MAC}.cfg", FANVIL_UA),
    ):
        assert (await fetch(client, s["urls"][vendor], name, ua)).status == 200
        await expect_refused(client, s["urls"][vendor], "000000000001.cfg", "curl/8")
    await client.get(f"/p/{'A' * 54}/x.cfg")
    logged = caplog.text
    assert "aiohttp.access" in logged and "/p/<token>/" in logged  # the access log ran
    assert PASSWORD not in logged and api.key not in logged
    for url in s["urls"].values():
        assert url["url"].split("/p/")[1].rstrip("/") not in logged


async def test_generic_store_serves_the_same(
    settings: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch, aiohttp_client: Any
) -> None:
    """The database-neutral hot path (what PostgreSQL uses) behaves like the SQLite one."""
    from deskprov.app import create_app
    from deskprov.db.hot import AsyncHotStore
    from deskprov.security.keyring import Keyring
    from deskprov.services import registry
    from deskprov.services.organisation import create_organisation

    monkeypatch.setattr(registry, "hot_store", lambda db, *_: AsyncHotStore(db.engine))
    client = await aiohttp_client(create_app(settings, keyring=Keyring.generate(), clock=clock))
    created = await create_organisation(client.app[SERVICES].deps, "Generic")
    api = Api(client, created.api_key, created.organisation_id)
    assert isinstance(client.app[SERVICES].phone.hot, AsyncHotStore)
    s = await phone_setup(api)
    url = s["urls"]["yealink"]
    y = phone_parsers.yealink_cfg(
        await (await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)).read()
    )
    assert y["account.1.password"] == PASSWORD
    bound = await api.get(f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}")
    assert bound["mac"] == YEALINK_MAC
    await expect_refused(
        client, url, "805ec0000099.cfg", "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:99"
    )
    assert refusals(await audit(api)) == ["other_mac"]


async def test_device_records_are_coalesced_but_changes_show(
    api: Api, client: TestClient, clock: Clock
) -> None:
    s = await phone_setup(api)
    url = s["urls"]["yealink"]

    async def device() -> dict[str, Any]:
        return {d["mac"]: d for d in (await api.get("/devices"))["items"]}[YEALINK_MAC]

    await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    first = await device()
    clock.advance(30)
    await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert (await device())["last_seen"] == first["last_seen"]  # same activity, within a minute
    await expect_refused(client, url, "805ec0000099.cfg", "Yealink SIP-T46S 66.86.0.15")
    changed = {d["mac"]: d for d in (await api.get("/devices"))["items"]}["805ec0000099"]
    assert changed["last_result"] == "refused:other_mac"  # a change shows at once
    await fetch(client, url, "y000000000066.cfg", YEALINK_UA)
    assert (await device())["last_file"] == f"{YEALINK_MAC}.cfg"  # same result: not yet
    clock.advance(61)
    await fetch(client, url, "y000000000066.cfg", YEALINK_UA)
    latest = await device()
    assert latest["last_seen"] > first["last_seen"] and latest["last_file"] == "y000000000066.cfg"
    assert latest["first_seen"] == first["first_seen"]


async def test_many_changed_devices_are_all_written(api: Api, client: TestClient) -> None:
    """A flush of more notes than one write takes (a boot storm) loses none."""
    s = await phone_setup(api)
    url = s["urls"]["polycom"]
    phone = client.app[SERVICES].phone
    count = WRITE_CHUNK * 2 + 7
    for n in range(count):
        phone.devices.note(
            DeviceNote(
                org_id=api.org_id,
                mac=f"0004f2{n:06x}",
                vendor="polycom",
                model="VVX_400",
                firmware="6.4.3",
                user_id=s["user"]["id"],
                provisioning_url_id=url["id"],
                at=phone.deps.clock(),
                ip="192.0.2.1",
                file="x.cfg",
                result="ok",
            )
        )
    await phone.devices.flush()
    async with phone.deps.db.read() as session:
        written = await session.scalar(select(func.count()).select_from(Device))
    assert written == count
