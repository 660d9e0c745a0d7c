"""Phone settings through the API, as the phones get them; stale lines and keys cleared; stored
text a vendor cannot carry named instead of crashing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from deskprov.appkeys import SERVICES
from deskprov.db.models import User
from deskprov.services.base import bump_data_version
from tests import phone_parsers
from tests.api.test_phone import (
    FANVIL_MAC,
    FANVIL_UA,
    POLYCOM_MAC,
    POLYCOM_UA,
    YEALINK_MAC,
    YEALINK_UA,
    fetch,
    path_of,
)
from tests.conftest import Api
from tests.factories import make_account, make_sip_user, make_url, make_user, phone_setup

PASSWORD = "Sup3rSecretPass"


def settings_path(pa: str) -> str:
    return f"/provider-accounts/{pa}/phone-settings"


async def yealink_file(client: TestClient, url: dict[str, Any]) -> dict[str, str]:
    resp = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert resp.status == 200
    return phone_parsers.yealink_cfg(await resp.read())


async def test_defaults_then_changes_reach_the_phone_on_its_next_fetch(
    api: Api, client: TestClient
) -> None:
    s = await phone_setup(api)
    pa, url = s["pa"], s["urls"]["yealink"]
    viewer = api.as_key((await api.post("/api-keys", {"name": "v", "role": "viewer"}))["key"])
    defaults = await viewer.get(settings_path(pa))
    assert defaults == {
        "timezone": "UTC",
        "ntp_servers": ["pool.ntp.org"],
        "language": None,
        "voicemail_number": None,
        "transport": "udp",
        "srtp": "off",
        "poll_minutes": 60,
        "nat_keepalive_seconds": 30,
        "firmware": {},
        "has_admin_password": False,
    }
    y = await yealink_file(client, url)  # works with nothing set; makes the admin password
    assert y["local_time.time_zone"] == "+0" and y["account.1.sip_server.1.port"] == "5060"
    assert (await api.get(settings_path(pa)))["has_admin_password"] is True
    await viewer.patch(settings_path(pa), {"timezone": "Europe/Paris"}, status=403)
    changed = await api.patch(
        settings_path(pa),
        {
            "timezone": "America/New_York",
            "ntp_servers": ["ntp.example.com", "10.0.0.1"],
            "language": "fr-CA",
            "voicemail_number": "*97",
            "transport": "tcp",
            "srtp": "optional",
            "poll_minutes": 15,
            "nat_keepalive_seconds": 0,
            "firmware": {"T46S": "https://fw.example.com/T46S-66.86.0.160.rom"},
        },
    )
    assert changed["timezone"] == "America/New_York" and changed["transport"] == "tcp"
    y = await yealink_file(client, url)
    assert y["local_time.time_zone"] == "-5" and y["local_time.start_time"] == "3/2/7/2"
    assert y["local_time.ntp_server2"] == "10.0.0.1" and y["lang.gui"] == "French"
    assert y["account.1.sip_server.1.transport_type"] == "1"
    assert y["account.1.srtp_encryption"] == "1"
    assert y["account.1.nat.udp_update_enable"] == "0"
    assert y["voice_mail.number.1"] == "*97"
    assert y["static.auto_provision.repeat.minutes"] == "15"
    assert y["static.firmware.url"] == "https://fw.example.com/T46S-66.86.0.160.rom"
    # null puts a field back to its default
    back = await api.patch(settings_path(pa), {"timezone": None, "firmware": None})
    assert back["timezone"] == "UTC" and back["firmware"] == {}
    assert (await yealink_file(client, url))["static.firmware.url"] == ""
    events = (await api.get("/audit-events?limit=500"))["items"]
    assert [e["action"] for e in events].count("phone_settings.update") == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"ntp_servers": []}, "ntp_servers"),
        ({"ntp_servers": ["bad host!"]}, "ntp_servers.0"),
        ({"language": "français"}, "language"),
        ({"voicemail_number": "voicemail"}, "voicemail_number"),
        ({"transport": "sctp"}, "transport"),
        ({"poll_minutes": 1}, "poll_minutes"),
        ({"nat_keepalive_seconds": -1}, "nat_keepalive_seconds"),
        ({"firmware": {"T46S": "ftp://fw.example.com/x.rom"}}, "firmware.T46S"),
        ({"admin_password": "mine"}, "admin_password"),
    ],
)
async def test_bad_settings_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    pa = (await make_account(api, "whippy_phone"))["id"]
    err = await api.patch(settings_path(pa), body, status=422)
    assert err["error"]["code"] == "validation_error" and field in err["error"]["fields"]
    assert (await api.get(settings_path(pa)))["timezone"] == "UTC"  # nothing changed


async def test_admin_password_revealed_and_rotated_by_admins_only(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    s = await phone_setup(api)
    pa = s["pa"]
    installer = api.as_key((await api.post("/api-keys", {"name": "i", "role": "installer"}))["key"])
    await installer.post(f"{settings_path(pa)}/reveal-admin-password", status=403)
    await installer.post(f"{settings_path(pa)}/rotate-admin-password", status=403)
    first = (await api.post(f"{settings_path(pa)}/reveal-admin-password", status=200))["password"]
    assert len(first) == 16 and first.isalnum()
    y = await yealink_file(client, s["urls"]["yealink"])
    assert y["static.security.user_password"] == f"admin:{first}"
    resp = await fetch(client, s["urls"]["fanvil"], f"{FANVIL_MAC}.cfg", FANVIL_UA)
    assert f"<Password>{first}</Password>".encode() in await resp.read()
    await api.post(f"{settings_path(pa)}/rotate-admin-password", status=200)
    second = (await api.post(f"{settings_path(pa)}/reveal-admin-password", status=200))["password"]
    assert second != first
    y = await yealink_file(client, s["urls"]["yealink"])  # the very next fetch has it
    assert y["static.security.user_password"] == f"admin:{second}"
    preview = await api.get(
        f"/provider-accounts/{pa}/provisioning-urls/{s['urls']['yealink']['id']}/preview"
        f"?file={YEALINK_MAC}.cfg"
    )
    assert second not in preview["content"]
    assert "static.security.user_password = admin:********" in preview["content"]
    events = (await api.get("/audit-events?limit=500"))["items"]
    actions = [e["action"] for e in events]
    assert actions.count("phone_settings.reveal_admin_password") == 2
    assert actions.count("phone_settings.rotate_admin_password") == 1
    assert all(first not in str(e) and second not in str(e) for e in events)
    assert first not in caplog.text and second not in caplog.text


async def test_a_url_in_another_zone(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    await api.patch(settings_path(s["pa"]), {"timezone": "Europe/Paris"})
    sydney = await make_url(api, s["pa"], s["user"]["id"], "polycom", timezone="Australia/Sydney")
    assert sydney["timezone"] == "Australia/Sydney"
    await api.post(
        f"/provider-accounts/{s['pa']}/provisioning-urls",
        {"user_id": s["user"]["id"], "vendor": "polycom", "timezone": "Nowhere/City"},
        status=422,
    )
    resp = await fetch(client, sydney, f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)
    p = phone_parsers.polycom_params(await resp.read())
    assert p["tcpIpApp.sntp.gmtOffset"] == str(10 * 3600)
    assert p["tcpIpApp.sntp.daylightSavings.start.month"] == "10"  # southern summer
    y = await yealink_file(client, s["urls"]["yealink"])
    assert y["local_time.time_zone"] == "+1"


async def test_settings_need_a_sip_provider(api: Api) -> None:
    meta = (await make_account(api, "meta"))["id"]
    err = await api.get(settings_path(meta), status=422)
    assert err["error"]["code"] == "unsupported_by_provider"


async def test_a_moved_line_and_a_deleted_key_are_cleared_on_every_vendor(
    api: Api, client: TestClient
) -> None:
    """The audit's reproduction: a second SIP user moved to another person and a key deleted.
    Yealink and Fanvil apply a file as a change set: the next file must disable both slots and
    hold no trace of the old credentials."""
    s = await phone_setup(api)
    pa = s["pa"]
    second = await make_sip_user(
        api, pa, s["list"]["id"], username="zoe.1005", password="Zoe-Passw0rd-1005"
    )
    await api.patch(
        f"/provider-accounts/{pa}/sip-users/{second['id']}", {"user_id": s["user"]["id"]}
    )
    before = await yealink_file(client, s["urls"]["yealink"])
    assert before["account.2.user_name"] == "zoe.1005"
    assert before["linekey.3.value"] == "bob"  # key 101, after the two line keys
    polycom = {
        "before": phone_parsers.polycom_params(
            await (
                await fetch(client, s["urls"]["polycom"], f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)
            ).read()
        )
    }
    assert polycom["before"]["reg.2.address"] == "zoe.1005"
    someone = await make_user(api)
    await api.patch(f"/provider-accounts/{pa}/sip-users/{second['id']}", {"user_id": someone["id"]})
    await api.delete(f"/provider-accounts/{pa}/sip-extensions/{s['keys'][0]['id']}")

    y_body = await (
        await fetch(client, s["urls"]["yealink"], f"{YEALINK_MAC}.cfg", YEALINK_UA)
    ).read()
    assert b"zoe.1005" not in y_body and b"Zoe-Passw0rd-1005" not in y_body
    y = phone_parsers.yealink_cfg(y_body)
    assert y["account.2.enable"] == "0"
    assert y["account.2.user_name"] == y["account.2.password"] == ""
    keys = phone_parsers.yealink_keys(y)
    # One line key now; the memory keys moved up one; the freed keys say "nothing".
    assert keys["linekey.1"]["type"] == "15"
    assert [keys[f"linekey.{n}"]["type"] for n in (2, 3, 4)] == ["73", "13", "13"]
    assert {keys[f"linekey.{n}"]["type"] for n in range(5, 28)} == {"0"}
    assert "bob" not in {k.get("value") for k in keys.values()}

    f_body = await (await fetch(client, s["urls"]["fanvil"], f"{FANVIL_MAC}.cfg", FANVIL_UA)).read()
    assert b"zoe.1005" not in f_body and b"Zoe-Passw0rd-1005" not in f_body
    f = phone_parsers.fanvil(f_body)
    assert f.lines[2] == phone_parsers.FanvilLine("", "", "", "", enabled=False)
    assert not any(k.value.startswith("bob@") for k in f.keys)
    assert [k.value for k in f.keys if k.element == "internal" and k.type == "1"] == [
        "600@1/a",
        "900@1/f",
        "901@1/f",
    ]

    p_body = await (
        await fetch(client, s["urls"]["polycom"], f"{POLYCOM_MAC}-deskprov.cfg", POLYCOM_UA)
    ).read()
    assert b"zoe.1005" not in p_body and b"Zoe-Passw0rd-1005" not in p_body
    p = phone_parsers.polycom_params(p_body)
    assert p["reg.2.address"] == "" and p["reg.2.server.1.register"] == "0"
    assert "attendant.resourceList.1.address" not in p
    assert p["lineKey.5.category"] == "Unassigned"


async def test_double_slash_before_the_file_name(api: Api, client: TestClient) -> None:
    s = await phone_setup(api)
    url = s["urls"]["yealink"]
    resp = await client.get(
        path_of(url) + f"/{YEALINK_MAC}.cfg", headers={"User-Agent": YEALINK_UA}
    )
    assert resp.status == 200 and (await resp.read()).startswith(b"#!version:1.0.0.1\n")
    bad = await client.get(path_of(url) + f"//x/{YEALINK_MAC}.cfg")
    assert bad.status == 404


async def test_stored_text_a_vendor_cannot_carry_fails_by_name_not_500(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Text stored before today's rules (U+FFFE in a user's name) makes Polycom and Fanvil files
    invalid XML: the phone gets a 404, the device says render_failed, the log names the URL and
    the field once, and the preview answers 422 naming the field."""
    s = await phone_setup(api)
    deps = client.app[SERVICES].deps
    async with deps.db.write() as session:
        await session.execute(
            update(User).where(User.id == s["user"]["id"]).values(name="Legacy \ufffe name")
        )
        await bump_data_version(session, api.org_id)
    url = s["urls"]["fanvil"]
    caplog.set_level(logging.WARNING, logger="deskprov.services.phone")
    for _ in range(2):
        resp = await fetch(client, url, f"{FANVIL_MAC}.cfg", FANVIL_UA)
        assert resp.status == 404 and await resp.read() == b""
    failures = [r for r in caplog.records if "cannot render" in r.getMessage()]
    assert len(failures) == 1
    assert url["id"] in failures[0].getMessage()
    assert "lines.1.display_name" in failures[0].getMessage()
    await client.app[SERVICES].phone.devices.flush()
    devices = {d["mac"]: d for d in (await api.get("/devices"))["items"]}
    assert devices[FANVIL_MAC]["last_result"] == "render_failed"
    err = await api.get(
        f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}/preview?file={FANVIL_MAC}.cfg",
        status=422,
    )
    assert "lines.1.display_name" in err["error"]["fields"]
    # Yealink's cfg has no such limit: its file is still served.
    assert (
        await fetch(client, s["urls"]["yealink"], f"{YEALINK_MAC}.cfg", YEALINK_UA)
    ).status == 200
