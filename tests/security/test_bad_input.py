"""Finding 7 (the parts that are not text rules): 500s for bad input. JSON nested 1,000 deep, a
crafted list ``cursor`` (a time zone offset, NUL, a lone surrogate: PostgreSQL refused them
mid-query), an admin form posting both ``name`` and ``name.x``. Each is now a 4xx that changes
nothing."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Api
from tests.security.conftest import sign_in


async def test_json_nested_a_thousand_deep_is_400(api: Api) -> None:
    for depth in (1000, 100):
        deep = '{"name": "x", "email": "a@b.example", "extra": ' + "[" * depth + "]" * depth + "}"
        err = await api.call("POST", "/users", raw=deep.encode(), status=400)
        assert err["error"]["code"] == "bad_request" and "nested" in err["error"]["message"]
    assert (await api.get("/users"))["items"] == []


def cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "crafted",
    [
        cursor("2026-11-26T08:00:00+05:00", "us_aaaaaaaaaaaaaaaa"),
        cursor("2026-11-26T08:00:00", "us_\u0000aaaaaaaaaaaaaaa"),
        cursor("2026-11-26T08:00:00", "us_\ud800aaaaaaaaaaaaaaa"),
        cursor("2026-11-26T08:00:00", "us_aaaaaaaaaaaaaaaa\n"),
        cursor("2026-11-26T08:00:00", 7),
    ],
)
async def test_a_crafted_cursor_is_400(api: Api, crafted: str) -> None:
    for path in ("/users", "/audit-events", "/api-keys"):
        err = await api.get(f"{path}?cursor={crafted}", status=400)
        assert err["error"]["fields"] == {"cursor": "malformed"}


async def test_a_genuine_cursor_still_pages(api: Api) -> None:
    for n in range(3):
        await api.post("/users", {"name": f"U{n}", "email": f"u{n}@example.com"})
    first = await api.get("/users?limit=2")
    rest = await api.get(f"/users?limit=2&cursor={first['next_cursor']}")
    assert len(first["items"]) == 2 and len(rest["items"]) == 1


async def test_an_admin_form_with_a_name_and_a_dotted_name_is_refused(api: Api) -> None:
    await sign_in(api)
    page = await api.client.get("/admin/accounts")
    csrf = (await page.text()).split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    for form in (
        {"name": "Main", "name.x": "1", "provider": "whippy_phone"},
        {"name.x": "1", "name": "Main", "provider": "whippy_phone"},
        {"name": "Main", "provider": "whippy_phone", "a" + ".a" * 1000: "deep"},
    ):
        resp = await api.client.post(
            "/admin/accounts", data={"_csrf": csrf, "_action": "provider-accounts.create", **form}
        )
        assert resp.status in (400, 422), (resp.status, await resp.text())
    assert (await api.get("/provider-accounts"))["items"] == []
