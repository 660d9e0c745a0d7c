"""Admin pages without a browser, against the in-process app and the strict local Twilio: the
provider-sync tab (report, import, repair), the pickers' search, and the CSV exports."""

from __future__ import annotations

import csv
import io
import re

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Api
from tests.factories import make_account, make_url, routing_setup, sip_setup
from tests.fakes.twilio import Console, FakeTwilio


async def signed_in(client: TestClient, api: Api) -> str:
    """Sign the test client in with the API's key; the CSRF token of its session."""
    resp = await client.post("/admin/sign-in", data={"api_key": api.key})
    assert resp.status == 200 and str(resp.url).endswith("/admin/accounts")
    found = re.search(r'name="csrf-token" content="([^"]+)"', await resp.text())
    assert found
    return found.group(1)


async def test_provider_sync_tab_reports_and_imports(
    api: Api, client: TestClient, fake_twilio: tuple[FakeTwilio, TestServer]
) -> None:
    _, server = fake_twilio
    console = Console(str(server.make_url("")))
    await console.call(
        "POST",
        "/SIP/Domains.json",
        {"DomainName": "legacy.sip.twilio.com", "FriendlyName": "Legacy office"},
    )
    pa = (await make_account(api))["id"]
    csrf = await signed_in(client, api)
    tab = f"/admin/accounts/{pa}/sync"
    page = await (await client.get(tab)).text()
    assert "Compare with Twilio" in page and "sync-report" not in page  # asked for, not loaded
    page = await (await client.get(tab + "?check=1")).text()
    assert "Only at Twilio (1)" in page and "legacy" in page
    resp = await client.post(
        tab,
        data={"_csrf": csrf, "_action": "provider-sync.act", "_bools": "import", "import": "on"},
    )
    page = await resp.text()
    assert resp.status == 200 and "Done (1)" in page
    (domain,) = (await api.get(f"/provider-accounts/{pa}/sip-domains"))["items"]
    assert domain["prefix"] == "legacy"
    # A whippy_phone account has no such tab (nothing of it lives at a provider).
    whippy = (await make_account(api, "whippy_phone"))["id"]
    assert (await client.get(f"/admin/accounts/{whippy}/sync")).status == 404


async def test_pickers_search_and_exports_defuse_formulas(api: Api, client: TestClient) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa = s["pa"]
    await api.patch(f"/users/{s['user']['id']}", {"name": '=HYPERLINK("x")'})
    await make_url(api, pa, s["user"]["id"], "fanvil", label="@SUM(1)", mac="0c383e000001")
    await signed_in(client, api)
    # (No registrar is configured here: the SIP users tab says it could not ask.)
    tab = await (await client.get(f"/admin/accounts/{pa}/sip-users")).text()
    assert "registrar unreachable" in tab
    picked = await (await client.get("/admin/pick/users?q=hyperlink")).json()
    assert [p["id"] for p in picked] == [s["user"]["id"]]
    lists = await (await client.get(f"/admin/pick/credential-lists?pa={pa}&q=nomatch")).json()
    assert lists == []
    resp = await client.get(f"/admin/accounts/{pa}/export/urls.csv")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="deskprov-urls.csv"'
    (url,) = list(csv.DictReader(io.StringIO(await resp.text())))
    assert url["label"] == "'@SUM(1)" and url["mac"] == "0c383e000001"
    assert url["user_email"] == s["user"]["email"] and url["url"].startswith("http")


async def test_keys_and_numbers_say_where_their_calls_go(api: Api, client: TestClient) -> None:
    """The route view on the lists: each key's extension as the plan reaches it (and a link to
    ask "where does this go?"), each number's calls from outside through its channel's route."""
    r = await routing_setup(api, "whippy_phone")
    pa = r["pa"]
    other = {"setup_type": "manual", "phone_number": "+14155550177", "sid": "PN" + "1" * 32}
    await api.post(f"/provider-accounts/{pa}/phones", other)
    await api.patch(f"/teams/{r['team']['id']}", {"member_ids": []})
    viewer = (await api.post("/api-keys", {"name": "Viewer", "role": "viewer"}))["key"]
    await signed_in(client, api)
    page = await (await client.get(f"/admin/accounts/{pa}/extensions")).text()
    rows = dict(re.findall(r"<code>(\d+)</code>(.*?)</tr>", page, re.S))
    assert "queue Support rings its members" in rows["300"]
    assert "one at a time, 15 s each" in rows["300"] and "?dialled=300#where" in rows["300"]
    assert "cannot ring" in rows["200"] and "team Sales has no members" in rows["200"]
    assert "cannot ring" not in rows["101"] and "rings SIP user bob" in rows["101"]
    # Numbers: a viewer reads them too (reading a route needs no more than viewing).
    resp = await client.post("/admin/sign-in", data={"api_key": viewer})
    assert resp.status == 200
    phones = await (await client.get(f"/admin/accounts/{pa}/phones")).text()
    desk = phones.split("+14155550100</td>", 1)[1].split("</tr>", 1)[0]
    assert "channel Front desk&#39;s calls go to queue Support" in desk
    loose = phones.split("+14155550177</td>", 1)[1].split("</tr>", 1)[0]
    assert "no channel has this number" in loose and "Actions for" not in phones
