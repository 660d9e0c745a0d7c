"""Provisioning URLs through the management API: create, read, revoke, preview."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import make_list, make_sip_user, make_url, make_user, phone_setup, sip_setup


async def test_create_read_revoke(api: Api) -> None:
    s = await sip_setup(api)
    pa = s["pa"]
    url = await make_url(
        api,
        pa,
        s["user"]["id"],
        "yealink",
        label="Front desk",
        mac="80:5E:C0:D5:7D:72",
        expires_in=3600,
    )
    assert url["id"].startswith("pu_")
    assert url["url"].startswith("http://deskprov.test/p/") and url["url"].endswith("/")
    token = url["url"].split("/p/")[1].rstrip("/")
    assert len(token) <= 64
    assert url["mac"] == "805ec0d57d72" and url["vendor"] == "yealink"
    assert url["expires_at"].endswith("Z") and url["revoked"] is False
    assert await api.get(f"/provider-accounts/{pa}/provisioning-urls/{url['id']}") == url
    assert (await api.get(f"/provider-accounts/{pa}/provisioning-urls"))["items"] == [url]
    await api.delete(f"/provider-accounts/{pa}/provisioning-urls/{url['id']}")
    revoked = await api.get(f"/provider-accounts/{pa}/provisioning-urls/{url['id']}")
    assert revoked["revoked"] is True and revoked["revoked_at"] is not None


async def test_roles(api: Api) -> None:
    s = await sip_setup(api)
    pa = s["pa"]
    installer = api.as_key((await api.post("/api-keys", {"name": "i", "role": "installer"}))["key"])
    viewer = api.as_key((await api.post("/api-keys", {"name": "v", "role": "viewer"}))["key"])
    url = await make_url(installer, pa, s["user"]["id"], "polycom")
    await installer.delete(f"/provider-accounts/{pa}/provisioning-urls/{url['id']}")
    err = await viewer.post(
        f"/provider-accounts/{pa}/provisioning-urls",
        {"user_id": s["user"]["id"], "vendor": "polycom"},
        status=403,
    )
    assert err["error"]["code"] == "forbidden"
    seen = await viewer.get(f"/provider-accounts/{pa}/provisioning-urls/{url['id']}")
    assert seen["url"] is None and seen["id"] == url["id"]
    assert all(
        u["url"] is None
        for u in (await viewer.get(f"/provider-accounts/{pa}/provisioning-urls"))["items"]
    )


async def test_create_says_which_link_is_missing(api: Api) -> None:
    s = await sip_setup(api)
    pa = s["pa"]
    path = f"/provider-accounts/{pa}/provisioning-urls"
    lonely = await make_user(api)
    err = await api.post(path, {"user_id": lonely["id"], "vendor": "polycom"}, status=422)
    assert "owns no SIP user" in err["error"]["message"]
    unattached = await make_list(api, pa)
    await make_sip_user(api, pa, unattached["id"], user_id=lonely["id"])
    err = await api.post(path, {"user_id": lonely["id"], "vendor": "polycom"}, status=422)
    assert "attached to a SIP domain" in err["error"]["message"]
    err = await api.post(path, {"user_id": "us_nosuchuser00000", "vendor": "polycom"}, status=404)
    assert err["error"]["fields"] == {"user_id": "not found"}
    for bad in ({"vendor": "cisco"}, {"mac": "00:11"}, {"expires_in": 5}, {"mac": "zz" * 6}):
        err = await api.post(
            path, {"user_id": s["user"]["id"], "vendor": "polycom", **bad}, status=422
        )
        assert set(err["error"]["fields"]) == set(bad)


async def test_user_with_urls_is_in_use(api: Api) -> None:
    s = await sip_setup(api)
    url = await make_url(api, s["pa"], s["user"]["id"], "fanvil")
    err = await api.delete(f"/users/{s['user']['id']}", status=409)
    assert {"type": "provisioning_url", "id": url["id"]} in err["error"]["dependents"]


async def test_preview_masks_passwords_unless_revealed(api: Api) -> None:
    s = await phone_setup(api)
    pa = s["pa"]
    url = s["urls"]["yealink"]
    path = f"/provider-accounts/{pa}/provisioning-urls/{url['id']}/preview"
    preview = await api.get(f"{path}?file=805ec0d57d72.cfg")
    assert preview["content_type"] == "text/plain; charset=utf-8" and preview["model"] == "T46S"
    assert "account.1.password = ********" in preview["content"]
    assert "Sup3rSecretPass" not in preview["content"]
    assert preview["dropped_keys"] == []
    installer = api.as_key((await api.post("/api-keys", {"name": "i", "role": "installer"}))["key"])
    await installer.get(f"{path}?file=805ec0d57d72.cfg")
    await installer.get(f"{path}?file=805ec0d57d72.cfg&reveal=true", status=403)
    revealed = await api.get(f"{path}?file=805ec0d57d72.cfg&reveal=true")
    assert "account.1.password = Sup3rSecretPass" in revealed["content"]
    events = (await api.get("/audit-events?limit=500"))["items"]
    assert [e["target_id"] for e in events if e["action"] == "provisioning_url.reveal_preview"] == [
        url["id"]
    ]
    err = await api.get(f"{path}?file=firmware.rom", status=404)
    assert err["error"]["fields"] == {"file": "not served to this vendor's phones"}


async def test_preview_reports_keys_without_room(api: Api) -> None:
    s = await phone_setup(api)
    url = s["urls"]["polycom"]
    path = f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}/preview"
    preview = await api.get(f"{path}?file=0004f2000001-deskprov.cfg&model=VVX150")
    assert preview["model"] == "VVX150"  # 2 keys: one line, one memory key
    assert [k["extension"] for k in preview["dropped_keys"]] == ["600", "900", "901"]
    assert 'lineKey.2.category="BLF"' in preview["content"]
