"""Finding 8, the smaller ones: Meta SIDs in other scripts' digits, a whitespace-only key label,
route-level 404s under /p/ with a body, a signed-out admin session still valid for 12 hours, and
an installer able to make an open-ended URL (and so read any SIP password, for good, by anyone
holding the sheet). (The key-file and start-up ones are in test_startup.py.)"""

from __future__ import annotations

from datetime import datetime

from aiohttp.test_utils import TestClient

from tests.conftest import Api, Clock
from tests.factories import make_account, make_extension, make_url, sip_setup
from tests.security.conftest import YEALINK_MAC, request, send, sign_in, token_of


async def test_meta_sids_are_ascii_digits(api: Api) -> None:
    pa = (await make_account(api, "meta"))["id"]
    path = f"/provider-accounts/{pa}/phones"
    # Arabic-Indic and full-width digits, a superscript: all str.isdigit().
    for sid in ("\u0661\u0662\u0663", "\uff11\uff12\uff13", "12345\u00b2", ""):
        body = {"setup_type": "manual", "phone_number": "+14155550500", "sid": sid}
        err = await api.post(path, body, status=422)
        assert "sid" in err["error"]["fields"]
    await api.post(path, {"setup_type": "manual", "phone_number": "+14155550500", "sid": "1234"})


async def test_a_key_label_of_white_space_is_refused(api: Api) -> None:
    s = await sip_setup(api)
    target = {"type": "phone_number", "value": "+14155550199"}
    for label in (" ", "   ", "\u3000"):
        err = await make_extension_refused(api, s["pa"], target, label)
        assert "label" in err["error"]["fields"]
    key = await make_extension(api, s["pa"], target, label=" Desk ")
    await api.patch(f"/provider-accounts/{s['pa']}/sip-extensions/{key['id']}", {"label": "x"})
    await api.patch(
        f"/provider-accounts/{s['pa']}/sip-extensions/{key['id']}", {"label": "  "}, status=422
    )


async def make_extension_refused(api: Api, pa: str, target: dict[str, str], label: str) -> dict:
    body = {
        "extension": "150",
        "label": label,
        "subtype": "start_new_call",
        "scope": "provider_account",
        "type": "memory_key",
        "target": target,
    }
    result: dict = await api.post(f"/provider-accounts/{pa}/sip-extensions", body, status=422)
    return result


async def test_every_404_under_p_is_empty(api: Api, client: TestClient) -> None:
    s = await sip_setup(api)
    token = token_of(await make_url(api, s["pa"], s["user"]["id"], "yealink"))
    for method, target in (
        ("GET", f"/p/{token}"),
        ("GET", f"/p/{token}/"),
        ("GET", f"/p/{token}/{YEALINK_MAC}.cfg/more"),
        ("GET", "/p/"),
        ("POST", f"/p/{token}/{YEALINK_MAC}.cfg"),
        ("DELETE", f"/p/{token}/{YEALINK_MAC}.cfg"),
        ("PUT", f"/p/{token}"),
    ):
        status, head, body = await send(client.server, request(method, target))
        assert (status, body) == (404, b""), (method, target, status, body)
        assert b"Content-Type: text/plain" not in head


async def test_signing_out_ends_the_session_at_once(api: Api) -> None:
    cookie = await sign_in(api)
    page = await api.client.get("/admin/accounts")
    csrf = (await page.text()).split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    out = await api.client.post("/admin/sign-out", data={"_csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    api.client.session.cookie_jar.clear()
    # A copy of the cookie (another tab, a stolen one) no longer works.
    again = await api.client.get(
        "/admin/accounts", headers={"Cookie": f"deskprov_admin={cookie}"}, allow_redirects=False
    )
    assert again.status == 303 and again.headers["Location"] == "/admin/"
    # Deleting the key that signed in ends its sessions too.
    other = await api.post("/api-keys", {"name": "second admin", "role": "admin"})
    cookie = await sign_in(api, other["key"])
    api.client.session.cookie_jar.clear()
    ok = await api.client.get(
        "/admin/accounts", headers={"Cookie": f"deskprov_admin={cookie}"}, allow_redirects=False
    )
    assert ok.status == 200
    await api.delete(f"/api-keys/{other['id']}")
    gone = await api.client.get(
        "/admin/accounts", headers={"Cookie": f"deskprov_admin={cookie}"}, allow_redirects=False
    )
    assert gone.status == 303


async def test_an_installers_url_must_be_claimed_within_a_day(
    api: Api, client: TestClient, clock: Clock
) -> None:
    s = await sip_setup(api)
    pa, user = s["pa"], s["user"]["id"]
    installer = api.as_key((await api.post("/api-keys", {"name": "i", "role": "installer"}))["key"])
    open_url = await make_url(installer, pa, user, "yealink")
    claimed = await make_url(installer, pa, user, "yealink")
    for_mac = await make_url(installer, pa, user, "yealink", mac=YEALINK_MAC)
    by_admin = await make_url(api, pa, user, "yealink")
    made = datetime.fromisoformat(open_url["created_at"].rstrip("Z"))
    deadline = datetime.fromisoformat(open_url["bind_before"].rstrip("Z"))
    assert 24 * 3600 - 1 < (deadline - made).total_seconds() <= 24 * 3600
    assert for_mac["bind_before"] is None and by_admin["bind_before"] is None

    async def fetch(url: dict, mac: str = YEALINK_MAC) -> int:
        ua = "Yealink SIP-T46S 66.86.0.15 " + ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        resp = await client.get(f"/p/{token_of(url)}/{mac}.cfg", headers={"User-Agent": ua})
        return resp.status

    assert await fetch(claimed, "805ec0000001") == 200  # claimed in time: bound to that phone
    clock.advance(24 * 3600 + 1)
    assert await fetch(open_url) == 404  # never claimed: dead
    assert await fetch(claimed, "805ec0000001") == 200  # bound: keeps working
    assert await fetch(for_mac) == 200 and await fetch(by_admin, "805ec0000002") == 200
    reasons = [
        e["detail"]["reason"]
        for e in (await api.get("/audit-events"))["items"]
        if e["action"] == "provisioning.refused"
    ]
    assert reasons == ["unclaimed"]


async def test_what_an_installer_can_and_cannot_learn(api: Api, client: TestClient) -> None:
    """SECURITY.md, "What an installer can and cannot learn", as a test."""
    s = await sip_setup(api)
    pa, su = s["pa"], s["sip_user"]["id"]
    key = await api.post("/api-keys", {"name": "i", "role": "installer"})
    installer = api.as_key(key["key"])
    # Can: read what is not secret, make a URL, and read the password by fetching it as a phone.
    assert "password" not in await installer.get(f"/provider-accounts/{pa}/sip-users/{su}")
    url = await make_url(installer, pa, s["user"]["id"], "yealink")
    ua = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:07"
    fetched = await client.get(f"/p/{token_of(url)}/805ec0000007.cfg", headers={"User-Agent": ua})
    assert "Sup3rSecretPass" in await fetched.text()
    events = (await api.get("/audit-events"))["items"]
    made = [e for e in events if e["action"] == "provisioning_url.create"]
    binds = [e for e in events if e["action"] == "provisioning_url.bind"]
    assert made[-1]["actor"] == key["id"]  # (audited: who made it, which phone took it)
    assert binds[-1]["detail"]["mac"] == "805ec0000007"
    # Cannot: reveal, preview with passwords, see keys or credentials, change anything else.
    await installer.post(f"/provider-accounts/{pa}/sip-users/{su}/reveal-password", status=403)
    preview = f"/provider-accounts/{pa}/provisioning-urls/{url['id']}/preview?file=805ec0000007.cfg"
    assert "Sup3rSecretPass" not in (await installer.get(preview))["content"]
    await installer.get(preview + "&reveal=true", status=403)
    await installer.get("/api-keys", status=403)
    assert "credentials" not in (await installer.get(f"/provider-accounts/{pa}"))
    await installer.post("/users", {"name": "X", "email": "x@example.com"}, status=403)
    await installer.patch(
        f"/provider-accounts/{pa}/sip-users/{su}", {"password": "N3w-Passw0rd!"}, status=403
    )
