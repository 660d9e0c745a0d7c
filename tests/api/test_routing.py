"""The routing plan read from the database, through the route API, the admin page's "where does
this go?" box and the phone files (keys to SIP users on providers without BLF)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from lxml import html

from tests import phone_parsers
from tests.conftest import Api
from tests.factories import make_account, make_sip_user, make_url, routing_setup

CONTRACT = {"dialled", "kind", "strategy", "ring_seconds", "caller_id", "targets"}


async def route(api: Api, pa: str, dialled: str, caller: str | None = None, **kw: Any) -> Any:
    query = f"?from={caller}" if caller else ""
    return await api.get(f"/provider-accounts/{pa}/routes/{quote(dialled)}{query}", **kw)


def sips(*uris: str) -> list[dict[str, str]]:
    return [{"type": "sip", "value": uri} for uri in uris]


async def test_every_kind_of_dialled_string(api: Api) -> None:
    o = await routing_setup(api)
    pa, uri = o["pa"], o["uri"]
    alice = [uri["alice"], uri["alice-desk"]]
    expected: dict[str, tuple[str, Any, int | None, list[str]]] = {
        "101": ("extension", "ring_all", None, [uri["bob"]]),
        "102": ("extension", "ring_all", None, alice),
        "200": ("extension", "ring_all", None, [uri["bob"], *alice]),
        "300": ("extension", "sequential", 15, [*alice, uri["bob"]]),
        "400": ("extension", "sequential", 15, [*alice, uri["bob"]]),
        "bob": ("sip_user", "ring_all", None, [uri["bob"]]),
    }
    for dialled, (kind, strategy, seconds, targets) in expected.items():
        r = await route(api, pa, dialled, "alice")
        assert set(r) >= CONTRACT
        assert (r["dialled"], r["kind"], r["strategy"], r["ring_seconds"]) == (
            dialled,
            kind,
            strategy,
            seconds,
        ), r
        assert r["targets"] == sips(*targets) and r["reachable"] and r["caller_id"] is None
    r = await route(api, pa, "400", "alice")
    assert r["reaches"] == {"type": "channel", "id": o["desk"]["id"], "name": "Front desk"}
    r = await route(api, pa, "nobody", "alice")
    assert (r["kind"], r["targets"], r["reachable"], r["reaches"]) == ("unknown", [], False, None)


async def test_numbers_and_caller_ids(api: Api) -> None:
    o = await routing_setup(api)
    pa = o["pa"]
    mobile = [{"type": "number", "value": "+14155550199"}]
    # Alice's SIP user is on the front desk channel: its number is her caller ID.
    r = await route(api, pa, "900", "alice")
    assert (r["kind"], r["targets"], r["caller_id"], r["strategy"]) == (
        "extension",
        mobile,
        "+14155550100",
        None,
    )
    # alice-desk has no channel; nor has a SIP user added later: the account's voice number.
    other = await make_sip_user(api, pa, o["list"]["id"], username="temp")
    for caller in ("alice-desk", "temp", None):
        assert (await route(api, pa, "+14155550199", caller))["caller_id"] == "+14155550100"
    # National digits in the region of the account's numbers (US).
    r = await route(api, pa, "(415) 555-0199", "bob")
    assert (r["kind"], r["targets"]) == ("pstn", mobile)
    # Without a number with voice, a call out cannot carry a caller ID: said so.
    await api.delete(f"/provider-accounts/{pa}/sip-users/{other['id']}")
    phone = (await api.get(f"/provider-accounts/{pa}/phones"))["items"][0]
    await api.delete(f"/provider-accounts/{pa}/phones/{phone['id']}")  # manual: only forgotten
    r = await route(api, pa, "+14155550199", "bob")
    assert (r["caller_id"], r["reachable"]) == (None, False)
    assert "no caller ID" in r["explanation"]


async def test_a_target_nobody_can_answer_is_explained(api: Api) -> None:
    o = await routing_setup(api)
    pa = o["pa"]
    await api.patch(f"/teams/{o['team']['id']}", {"member_ids": []})
    r = await route(api, pa, "200", "alice")
    assert (r["kind"], r["targets"], r["reachable"]) == ("extension", [], False)
    assert "Sales has no members: nobody can answer" in r["explanation"]
    await api.patch(f"/channels/{o['desk']['id']}", {"route": None})
    r = await route(api, pa, "400", "alice")
    assert not r["reachable"] and "Front desk has no route" in r["explanation"]
    # A change shows at once (the plan is kept per data version).
    await api.patch(f"/teams/{o['team']['id']}", {"member_ids": [o["bob"]["id"]]})
    assert (await route(api, pa, "200"))["targets"] == sips(o["uri"]["bob"])


async def test_who_may_ask_and_what_is_refused(api: Api, other_api: Api) -> None:
    o = await routing_setup(api)
    pa = o["pa"]
    viewer = (await api.post("/api-keys", {"name": "v", "role": "viewer"}))["key"]
    r = await route(api.as_key(viewer), pa, "101", "alice")
    assert r["targets"] == sips(o["uri"]["bob"])
    await route(other_api, pa, "101", status=404)  # another organisation's account
    meta = await make_account(api, "meta")
    err = await route(api, meta["id"], "101", status=422)
    assert err["error"]["code"] == "unsupported_by_provider"
    err = await route(api, pa, "1" * 65, status=422)
    assert "dialled" in err["error"]["fields"]
    err = await route(api, pa, "101", "not a name", status=422)
    assert "from" in err["error"]["fields"]
    r = await route(api, pa, "101", "mallory")  # not a SIP user of this account
    assert (r["kind"], r["targets"]) == ("unknown", [])
    assert "mallory is not a SIP user" in r["explanation"]


async def test_another_organisation_is_never_reached(api: Api, other_api: Api) -> None:
    o = await routing_setup(api)
    theirs = await routing_setup(other_api)
    # Their SIP users, their team's extension, their keys: not ours to dial.
    their_carol = await make_sip_user(
        other_api, theirs["pa"], theirs["list"]["id"], username="carol"
    )
    await other_api.patch(f"/teams/{theirs['team']['id']}", {"extension": "777"})
    for dialled in ("carol", "777"):
        assert (await route(api, o["pa"], dialled, "alice"))["kind"] == "unknown"
    # The same extensions and usernames in both: each account reaches its own people only.
    ours = await route(api, o["pa"], "200", "alice")
    mine = {t["value"] for t in ours["targets"]}
    assert mine == {o["uri"]["bob"], o["uri"]["alice"], o["uri"]["alice-desk"]}
    assert not mine & {theirs["uri"]["bob"], f"sip:carol@{theirs['domain']['domain']}"}
    assert their_carol["id"] not in str(ours)


async def test_keys_to_sip_users_are_speed_dials_without_blf(api: Api) -> None:
    """Twilio answers no dialog subscription: a key to a SIP user dials its extension (which
    the plan routes to that SIP user); whippy_phone's registrar does, so there it is BLF."""
    for provider, expected, number in (
        ("twilio", ("13", "101"), "+14155550100"),
        ("whippy_phone", ("16", "bob"), "+14155550101"),
    ):
        o = await routing_setup(api, provider, number)
        url = await make_url(api, o["pa"], o["alice"]["id"], "yealink")
        preview = await api.get(
            f"/provider-accounts/{o['pa']}/provisioning-urls/{url['id']}/preview"
            "?file=805ec0d57d72.cfg"
        )
        y = phone_parsers.yealink_cfg(preview["content"].encode())
        keys = {y[f"linekey.{n}.label"]: n for n in range(1, 11) if f"linekey.{n}.label" in y}
        n = keys["Key 101"]
        assert (y[f"linekey.{n}.type"], y[f"linekey.{n}.value"]) == expected, provider
        if provider == "twilio":  # (and the extension it dials reaches Bob)
            assert (await route(api, o["pa"], "101", "alice"))["targets"] == sips(o["uri"]["bob"])
        await api.delete(f"/provider-accounts/{o['pa']}/provisioning-urls/{url['id']}")


async def test_admin_where_does_this_go(api: Api, client: TestClient) -> None:
    o = await routing_setup(api)
    signed_in = await client.post("/admin/sign-in", data={"api_key": api.key})
    assert signed_in.status == 200  # (followed the redirect to the accounts page)
    page = await client.get(
        f"/admin/accounts/{o['pa']}/extensions", params={"dialled": "300", "from": "bob"}
    )
    assert page.status == 200
    doc = html.fromstring(await page.text())
    box = doc.get_element_by_id("where")
    assert box.xpath(".//input[@name='dialled']/@value") == ["300"]
    result = box.get_element_by_id("route-result")
    assert "one at a time" in result.text_content()
    assert result.xpath(".//li/code/text()") == [
        o["uri"]["alice"],
        o["uri"]["alice-desk"],
        o["uri"]["bob"],
    ]
    page = await client.get(f"/admin/accounts/{o['pa']}/extensions", params={"dialled": "x" * 70})
    doc = html.fromstring(await page.text())
    assert "1 to 64 characters" in doc.get_element_by_id("where").text_content()
