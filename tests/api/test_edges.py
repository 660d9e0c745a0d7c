"""The edge of the API: malformed bodies, size limits, control characters, unknown fields,
rate limits on bad keys, and the OpenAPI document."""

from __future__ import annotations

import io

import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from deskprov.appkeys import API_KEY_FAILURES
from deskprov.web.openapi import build_document
from tests.conftest import Api
from tests.factories import make_account


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe", b'{"name": NaN}']
)
async def test_body_must_be_a_json_object(api: Api, raw: bytes) -> None:
    err = await api.call(
        "POST", "/users", raw=raw, status=400, headers={"Content-Type": "application/json"}
    )
    assert err["error"]["code"] == "bad_request"
    assert (await api.get("/users"))["items"] == []


async def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'", "email": "a@example.com"}'
    resp = await api.client.post(
        "/api/v1/users",
        data=io.BytesIO(big),
        headers={
            "Authorization": f"Bearer {api.key}",
            "Content-Type": "application/json",
            "Content-Length": str(len(big)),
        },
    )
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "payload_too_large"
    assert (await api.get("/users"))["items"] == []


@pytest.mark.parametrize("bad", ["Alice\nBob", "tab\there", "nul\x00", "cr\r", "del\x7f", "c1\x85"])
async def test_control_characters_are_refused(api: Api, bad: str) -> None:
    err = await api.post("/users", {"name": bad, "email": "a@example.com"}, status=422)
    assert err["error"]["fields"] == {"name": "control characters are not allowed"}
    account = await make_account(api)
    err = await api.patch(
        f"/provider-accounts/{account['id']}",
        {"credentials": {"account_sid": "AC" + "0" * 32, "auth_token": bad}},
        status=422,
    )
    assert err["error"]["fields"] == {
        "credentials.auth_token": "control characters are not allowed"
    }
    assert (await api.get("/users"))["items"] == []


async def test_unknown_fields_are_refused(api: Api) -> None:
    err = await api.post(
        "/users", {"name": "A", "email": "a@example.com", "admin": True}, status=422
    )
    assert err["error"]["fields"] == {"admin": "unknown field"}


async def test_types_are_not_coerced(api: Api) -> None:
    s = await make_account(api, "whippy_phone")
    err = await api.post(
        f"/provider-accounts/{s['id']}/phones",
        {
            "setup_type": "manual",
            "phone_number": "+14155550100",
            "sid": "PN" + "a" * 32,
            "hosted": "yes",
        },
        status=422,
    )
    assert "hosted" in err["error"]["fields"]


async def test_unknown_api_path_is_a_json_404(api: Api) -> None:
    err = await api.get("/no-such-thing", status=404)
    assert err["error"]["code"] == "not_found"


async def test_failed_api_keys_are_rate_limited_per_address(api: Api, client: TestClient) -> None:
    limiter = client.app[API_KEY_FAILURES]
    bad = api.as_key("dpk_" + "y" * 43)
    for _ in range(limiter.by_address.limit):
        await bad.get("/users", status=401)
    err = await bad.get("/users", status=429)
    assert err["error"]["code"] == "rate_limited"
    assert int(bad.last.headers["Retry-After"]) >= 1
    # While blocked, a good key from that address still passes (issue 16: the key is checked
    # first; only failures are limited).
    await api.get("/users")


async def test_valid_keys_are_never_limited(api: Api) -> None:
    for _ in range(150):
        await api.get("/users")


async def test_openapi_document_is_valid_and_public(client: TestClient) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    user_create = doc["paths"]["/api/v1/users"]["post"]
    schema_ref = user_create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"name", "email"}
    assert schema["additionalProperties"] is False
    for path in (
        "/api/v1/provider-accounts/{pa}/sip-users/{id}/reveal-password",
        "/api/v1/provider-accounts/{pa}/available-phone-numbers",
        "/api/v1/devices",
        "/api/v1/audit-events",
    ):
        assert path in doc["paths"], path


def test_openapi_covers_every_routed_endpoint() -> None:
    from deskprov.web.api import ENDPOINTS, PREFIX

    doc = build_document()
    for e in ENDPOINTS:
        assert e.method.lower() in doc["paths"][PREFIX + e.path]


async def test_healthz_and_metrics(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    await client.get("/healthz")
    metrics = await (await client.get("/metrics")).text()
    assert 'deskprov_requests_total{endpoint="healthz",status="200"} 2.0' in metrics


async def test_each_part_has_its_own_middleware(api: Api, client: TestClient) -> None:
    # Phones and probes: the root application, with no middleware on the hot path.
    assert not client.app.middlewares
    # The management API answers unknown paths and methods in its error shape...
    err = await api.call("GET", "/no-such-collection", status=404)
    assert err["error"]["code"] == "not_found"
    err = await api.call("PATCH", "/users", status=405)
    assert err["error"]["code"] == "method_not_allowed"
    # ... and counts its requests (the sub-application's middleware, the root's counters).
    await api.get("/users")
    # The admin pages' sub-application serves its bare mount point too.
    page = await client.get("/admin", allow_redirects=False)
    assert page.status == 200 and "sign in" in (await page.text()).lower()
    assert page.headers["Cache-Control"] == "no-store"
    # Elsewhere: a bare 404, not the API's JSON.
    other = await client.get("/no-such-page")
    assert other.status == 404 and other.content_type == "text/plain"
    metrics = await (await client.get("/metrics")).text()
    assert 'deskprov_requests_total{endpoint="users.list",status="200"} 1.0' in metrics
