"""The management side on its own listener (DESKPROV_ADMIN_PORT): two root applications that
share one set of services, the phones' with no middleware and nothing but phones and probes."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from yarl import URL

from deskprov.app import create_apps
from deskprov.appkeys import SERVICES
from deskprov.security.keyring import Keyring
from deskprov.services.organisation import create_organisation
from deskprov.settings import Settings
from tests.conftest import Api, with_settings
from tests.factories import make_url, sip_setup

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:d5:7d:72"


async def test_the_management_side_can_have_its_own_listener(
    settings: Settings, aiohttp_client: Any
) -> None:
    # (browsers reach the phones' side by HTTPS, through a proxy; the management side by HTTP)
    settings = with_settings(settings, admin_port=8081, public_url="https://prov.example.com")
    apps = create_apps(settings, keyring=Keyring.generate())
    assert apps.admin is not None and not apps.phones.middlewares
    phones = await aiohttp_client(TestServer(apps.phones))  # (first: it opens the database)
    admin = await aiohttp_client(TestServer(apps.admin))
    created = await create_organisation(apps.phones[SERVICES].deps, "Acme")
    api = Api(admin, created.api_key, created.organisation_id)
    s = await sip_setup(api, "whippy_phone")
    url = URL((await make_url(api, s["pa"], s["user"]["id"], "yealink"))["url"])
    phone_file = url.path + "805ec0d57d72.cfg"

    fetched = await phones.get(phone_file, headers={"User-Agent": YEALINK_UA})
    assert fetched.status == 200 and "account.1.password" in await fetched.text()
    for path in ("/api/v1/users", "/admin/", "/metrics", "/api/v1/openapi.json"):
        assert (await phones.get(path)).status == 404, path
    assert (await admin.get(phone_file, headers={"User-Agent": YEALINK_UA})).status == 404
    assert (await phones.get("/healthz")).status == (await admin.get("/healthz")).status == 200
    assert (await admin.get("/api/v1/openapi.json")).status == 200
    # One set of counters: the phone's fetch shows on the management side's /metrics.
    metrics = await (await admin.get("/metrics")).text()
    assert 'deskprov_requests_total{endpoint="phone.fetch",status="200"} 1.0' in metrics
    # The admin pages' session cookie works over the management listener's plain HTTP.
    signed_in = await admin.post(
        "/admin/sign-in", data={"api_key": created.api_key}, allow_redirects=False
    )
    assert signed_in.status in (302, 303)
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie
