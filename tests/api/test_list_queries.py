"""Lists searched, sorted and filtered (?q=, ?sort=, exact filters), paged by cursor in each."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.conftest import Api
from tests.factories import make_account, make_sip_user, make_user, sip_setup


async def all_pages(api: Api, path: str, limit: int = 2) -> list[Any]:
    """Every item of a list, page by page (the cursor carries the query's order)."""
    items: list[Any] = []
    cursor = None
    joiner = "&" if "?" in path else "?"
    while True:
        page = await api.get(
            f"{path}{joiner}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        )
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_users_searched_sorted_and_found_by_email(api: Api) -> None:
    names = ["Carol Ng", "alice Smith", "Bob Jones", "Dave Alison"]
    for name in names:
        await make_user(api, name=name, email=name.split()[0].lower() + "@corp.example")
    found = await all_pages(api, "/users?q=ALI")
    assert [u["name"] for u in found] == ["alice Smith", "Dave Alison"]  # creation order
    by_name = await all_pages(api, "/users?sort=name")
    assert [u["name"] for u in by_name] == sorted(names)
    backwards = await all_pages(api, "/users?sort=-email", limit=3)
    assert [u["email"] for u in backwards] == sorted((u["email"] for u in by_name), reverse=True)
    (bob,) = (await api.get("/users?email=BOB@corp.example"))["items"]
    assert bob["name"] == "Bob Jones"
    # A search's wildcards are text: '%' finds nothing here.
    assert (await api.get("/users?q=%25"))["items"] == []


async def test_bad_sorts_and_cursors_of_another_order(api: Api) -> None:
    for _ in range(3):
        await make_user(api)
    err = await api.get("/users?sort=password", status=422)
    assert "sort" in err["error"]["fields"]
    err = await api.get("/users?sort=Name;drop", status=422)
    assert err["error"]["code"] == "validation_error"
    cursor = (await api.get("/users?sort=name&limit=1"))["next_cursor"]
    err = await api.get(f"/users?sort=email&cursor={cursor}", status=400)
    assert err["error"]["fields"] == {"cursor": "from a list sorted otherwise"}
    # Crafted sorted cursors are refused as the plain ones are (PostgreSQL would 500 on these).
    for path, sort, value in (
        ("/users", "name", "a\u0000b"),
        ("/users", "name", "\ud800"),
        ("/devices", "last_seen", "2026-11-26T08:00:00+05:00"),
        ("/devices", "last_seen", "not a time"),
        ("/users", "name", {"a": 1}),
    ):
        for row_id in ("us_aaaaaaaaaaaaaaaa", "us_\u0000aaaaaaaaaaaaaaa"):
            raw = '["' + sort + '", ' + json.dumps(value) + ', "' + row_id + '"]'
            crafted = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
            err = await api.get(f"{path}?sort={sort}&cursor={crafted}", status=400)
            assert err["error"]["fields"] == {"cursor": "malformed"}
    pa = (await make_account(api, "whippy_phone"))["id"]
    err = await api.get(f"/provider-accounts/{pa}/credential-attachments?q=x", status=422)
    assert err["error"]["code"] == "validation_error"


async def test_sip_users_by_username_or_owner(api: Api) -> None:
    s = await sip_setup(api, "whippy_phone")
    pa, cl = s["pa"], s["list"]["id"]
    zed = await make_user(api, name="Zed Owner")
    amy = await make_user(api, name="Amy Owner")
    await make_sip_user(api, pa, cl, username="desk-b", user_id=zed["id"])
    await make_sip_user(api, pa, cl, username="desk-a", user_id=amy["id"])
    await make_sip_user(api, pa, cl, username="lobby")
    path = f"/provider-accounts/{pa}/sip-users"
    owned = await all_pages(api, f"{path}?q=owner&sort=owner")
    assert [u["username"] for u in owned] == ["desk-a", "desk-b"]
    by_owner = await all_pages(api, f"{path}?sort=-owner")
    # Zed, then sip_setup's "User n", then Amy; no owner sorts first, so last backwards.
    expected = ["desk-b", s["sip_user"]["username"], "desk-a", "lobby"]
    assert [u["username"] for u in by_owner] == expected
    assert [u["username"] for u in await all_pages(api, f"{path}?sort=username")] == sorted(
        u["username"] for u in by_owner
    )
    mine = await api.get(f"{path}?user_id={zed['id']}")
    assert [u["username"] for u in mine["items"]] == ["desk-b"]


async def test_phones_by_number_and_audit_events_by_actor_action_target(api: Api) -> None:
    pa = (await make_account(api, "whippy_phone"))["id"]
    for number in ("+14155550103", "+14155550101", "+14155550102"):
        await api.post(
            f"/provider-accounts/{pa}/phones",
            {"setup_type": "manual", "phone_number": number, "sid": "PN" + number[-3:] * 10 + "ab"},
        )
    phones = await all_pages(api, f"/provider-accounts/{pa}/phones?sort=phone_number")
    assert [p["phone_number"] for p in phones] == ["+14155550101", "+14155550102", "+14155550103"]
    found = await api.get(f"/provider-accounts/{pa}/phones?q=0102")
    assert [p["phone_number"] for p in found["items"]] == ["+14155550102"]

    newest = await all_pages(api, "/audit-events?sort=-at&action=provider_phone", limit=2)
    assert [e["action"] for e in newest] == ["provider_phone.create"] * 3
    by_number = {p["phone_number"]: p["id"] for p in phones}
    created_last_first = ["+14155550102", "+14155550101", "+14155550103"]
    assert [e["target_id"] for e in newest] == [by_number[n] for n in created_last_first]
    one = phones[0]["id"]
    (event,) = (await api.get(f"/audit-events?target_id={one}"))["items"]
    assert event["action"] == "provider_phone.create"
    actor = event["actor"]
    assert (await api.get(f"/audit-events?actor={actor}&action=provider_phone.create"))["items"]
    assert (await api.get("/audit-events?actor=ak_nobody"))["items"] == []
