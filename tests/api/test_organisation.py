"""Organisation-level resources: users, channels, teams, queues, API keys and roles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import make_user


async def test_user_crud(api: Api) -> None:
    created = await api.post("/users", {"name": "Alice Smith", "email": "alice@example.com"})
    assert created["id"].startswith("us_")
    assert api.last.headers["Location"] == f"/api/v1/users/{created['id']}"
    assert created["created_at"].endswith("Z")
    assert await api.get(f"/users/{created['id']}") == created
    changed = await api.patch(f"/users/{created['id']}", {"name": "Alice Jones"})
    assert changed["name"] == "Alice Jones" and changed["email"] == "alice@example.com"
    await api.delete(f"/users/{created['id']}")
    err = await api.get(f"/users/{created['id']}", status=404)
    assert err["error"]["code"] == "not_found"


async def test_user_email_is_unique(api: Api) -> None:
    await api.post("/users", {"name": "A", "email": "same@example.com"})
    err = await api.post("/users", {"name": "B", "email": "same@example.com"}, status=409)
    assert err["error"]["code"] == "conflict"
    assert err["error"]["fields"] == {"email": "already taken"}
    other = await make_user(api)
    err = await api.patch(f"/users/{other['id']}", {"email": "same@example.com"}, status=409)
    assert err["error"]["fields"] == {"email": "already taken"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/users", {"name": "A"}, "email"),
        ("/users", {"name": "", "email": "a@example.com"}, "name"),
        ("/users", {"name": "x" * 101, "email": "a@example.com"}, "name"),
        ("/users", {"name": "A", "email": "not-an-email"}, "email"),
        ("/users", {"name": 5, "email": "a@example.com"}, "name"),
        ("/channels", {"name": "Sales", "phone_number": "4155550100"}, "phone_number"),
        ("/teams", {"name": "Support", "extension": "12a"}, "extension"),
        ("/queues", {"name": "Q", "extension": "1" * 17}, "extension"),
    ],
)
async def test_invalid_bodies_name_the_field(api: Api, path: str, body: Any, field: str) -> None:
    err = await api.post(path, body, status=422)
    assert err["error"]["code"] == "validation_error"
    assert field in err["error"]["fields"]
    assert (await api.get(path))["items"] == []  # nothing was created


async def test_channels_teams_queues(api: Api) -> None:
    channel = await api.post("/channels", {"name": "Sales", "phone_number": "+14155550100"})
    assert channel["id"].startswith("ch_") and channel["phone_number"] == "+14155550100"
    cleared = await api.patch(f"/channels/{channel['id']}", {"phone_number": None})
    assert cleared["phone_number"] is None
    team = await api.post("/teams", {"name": "Support", "extension": "200"})
    queue = await api.post("/queues", {"name": "Billing", "extension": "300"})
    assert team["id"].startswith("tm_") and queue["id"].startswith("qu_")
    err = await api.patch(f"/teams/{team['id']}", {"name": None}, status=422)
    assert err["error"]["fields"] == {"name": "required"}


async def test_pagination_is_stable_and_complete(api: Api) -> None:
    made = [(await make_user(api))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await api.get("/users?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 3
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "bogus=1"])
async def test_bad_list_queries(api: Api, query: str) -> None:
    err = await api.get(f"/users?{query}", status=422)
    assert err["error"]["code"] == "validation_error"


async def test_malformed_cursor(api: Api) -> None:
    err = await api.get("/users?cursor=%%%", status=400)
    assert err["error"]["code"] == "bad_request"


async def test_api_keys_shown_once_and_roles(api: Api) -> None:
    created = await api.post("/api-keys", {"name": "ops viewer", "role": "viewer"})
    key = created["key"]
    assert key.startswith("dpk_") and created["id"].startswith("ak_")
    listed = await api.get("/api-keys")
    assert all("key" not in k for k in listed["items"])
    assert key not in str(listed)

    viewer = api.as_key(key)
    assert (await viewer.get("/users"))["items"] == []
    err = await viewer.post("/users", {"name": "X", "email": "x@example.com"}, status=403)
    assert err["error"]["code"] == "forbidden"
    await viewer.get("/api-keys", status=403)

    installer_key = (await api.post("/api-keys", {"name": "field", "role": "installer"}))["key"]
    installer = api.as_key(installer_key)
    await installer.get("/users")
    await installer.post("/users", {"name": "X", "email": "x@example.com"}, status=403)

    await api.delete(f"/api-keys/{created['id']}")
    err = await viewer.get("/users", status=401)
    assert err["error"]["code"] == "unauthorized"


async def test_last_admin_key_cannot_be_deleted(api: Api) -> None:
    keys = (await api.get("/api-keys"))["items"]
    assert len(keys) == 1
    err = await api.delete(f"/api-keys/{keys[0]['id']}", status=409)
    assert err["error"]["code"] == "conflict"


async def test_bad_role_is_rejected(api: Api) -> None:
    err = await api.post("/api-keys", {"name": "x", "role": "root"}, status=422)
    assert "role" in err["error"]["fields"]


async def test_missing_or_bad_key_is_401(api: Api) -> None:
    resp = await api.client.get("/api/v1/users")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    await api.as_key("dpk_" + "x" * 43).get("/users", status=401)
    await api.as_key("not-a-key").get("/users", status=401)


async def test_audit_events_record_changes_without_secrets(api: Api) -> None:
    user = await make_user(api)
    await api.patch(f"/users/{user['id']}", {"name": "Renamed"})
    events = (await api.get("/audit-events"))["items"]
    actions = [(e["action"], e["target_id"]) for e in events]
    assert ("user.create", user["id"]) in actions
    assert ("user.update", user["id"]) in actions
    update = next(e for e in events if e["action"] == "user.update")
    assert update["actor"].startswith("ak_")
    assert update["detail"] == {"fields": ["name"]}
