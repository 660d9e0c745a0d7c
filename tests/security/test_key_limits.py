"""Finding 3: the limiter looked at the address before the key, so 101 bad keys from an address
(a reverse proxy: every admin) made every valid key from it get 429, on the API and at the admin
sign-in. A valid key is now checked first and always passes; failures are limited per address
and per key prefix; ``X-Forwarded-For`` is believed only from ``DESKPROV_TRUSTED_PROXIES``."""

from __future__ import annotations

from typing import Any

import pytest

from deskprov.appkeys import API_KEY_FAILURES
from deskprov.security.keyring import Keyring
from deskprov.settings import Settings, SettingsError
from tests.conftest import Api
from tests.security.conftest import start


async def test_bad_keys_from_an_address_do_not_lock_out_the_good_ones(api: Api) -> None:
    bad = api.as_key("dpk_" + "x" * 43)
    for _ in range(100):
        await bad.get("/users", status=401)
    await bad.get("/users", status=429)  # the bad ones are limited...
    for _ in range(20):
        await api.get("/users")  # ...the good key from the same address never is
    # Nor at the admin pages' sign-in.
    bad_sign_in = await api.client.post("/admin/sign-in", data={"api_key": bad.key})
    assert bad_sign_in.status == 429
    good = await api.client.post("/admin/sign-in", data={"api_key": api.key}, allow_redirects=False)
    assert good.status == 303 and "deskprov_admin" in good.cookies


async def test_one_bad_key_from_many_addresses_is_limited_by_its_prefix(
    settings: Settings, aiohttp_client: Any
) -> None:
    api = await start(
        settings.model_copy(update={"trusted_proxies": ("127.0.0.1",)}),
        aiohttp_client,
        keyring=Keyring.generate(),
    )
    bad = api.as_key("dpk_" + "y" * 43)
    for i in range(100):  # each through the proxy from another client
        await bad.call("GET", "/users", status=401, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    await bad.call("GET", "/users", status=429, headers={"X-Forwarded-For": "203.0.113.9"})
    await api.call("GET", "/users", status=200, headers={"X-Forwarded-For": "203.0.113.9"})


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    settings: Settings, aiohttp_client: Any
) -> None:
    behind = await start(
        settings.model_copy(update={"trusted_proxies": ("127.0.0.0/8",)}),
        aiohttp_client,
        keyring=Keyring.generate(),
    )
    failures = behind.client.app[API_KEY_FAILURES].by_address
    for i in range(3):
        key = behind.as_key(f"dpk_{i:02d}" + "z" * 41)  # (other prefixes each time)
        await key.call(
            "GET", "/users", status=401, headers={"X-Forwarded-For": f"10.9.9.9, 192.0.2.{i}"}
        )
    # The proxy's own entry is the client; what the client wrote to its left is not believed.
    assert [failures.retry_after(f"192.0.2.{i}") for i in range(3)] == [None] * 3
    assert set(failures._failures) == {"192.0.2.0", "192.0.2.1", "192.0.2.2"}


async def test_forwarded_addresses_from_anyone_else_are_ignored(api: Api) -> None:
    failures = api.client.app[API_KEY_FAILURES].by_address
    for i in range(3):
        key = api.as_key(f"dpk_{i:02d}" + "w" * 41)
        await key.call("GET", "/users", status=401, headers={"X-Forwarded-For": f"192.0.2.{i}"})
    assert set(failures._failures) == {"127.0.0.1"}


@pytest.mark.parametrize("value", ["proxy.example", "10.0.0.0/33", "1.2.3"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"DESKPROV_TRUSTED_PROXIES": value})
    ok = Settings.from_env({"DESKPROV_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12 ::1"})
    assert ok.trusted_proxies == ("10.0.0.1", "172.16.0.0/12", "::1")
