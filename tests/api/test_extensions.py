"""SIP extensions: every field, the six target kinds, owners, dialability, in-use rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import make_account, make_extension, make_user, sip_setup


async def targets(api: Api, s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    channel = await api.post("/channels", {"name": "Sales", "phone_number": "+14155550100"})
    team = await api.post("/teams", {"name": "Support", "extension": "200"})
    queue = await api.post("/queues", {"name": "Billing", "extension": "300"})
    return {
        "phone_number": {"type": "phone_number", "value": "+14155550199"},
        "channel": {"type": "channel", "id": channel["id"]},
        "agent": {"type": "agent", "id": s["user"]["id"]},
        "sip_user": {"type": "sip_user", "id": s["sip_user"]["id"]},
        "team": {"type": "team", "id": team["id"]},
        "queue": {"type": "queue", "id": queue["id"]},
    }


async def test_every_target_kind(api: Api) -> None:
    s = await sip_setup(api)
    for i, (kind, target) in enumerate((await targets(api, s)).items()):
        ext = await make_extension(
            api,
            s["pa"],
            target,
            extension=f"{10 + i}",
            label=f"Key {kind}",
            subtype="blind_transfer" if i % 2 else "start_new_call",
            position=i + 1,
        )
        assert ext["id"].startswith("ex_")
        assert ext["target"] == target
        assert ext["type"] == "memory_key" and ext["position"] == i + 1
        assert await api.get(f"/provider-accounts/{s['pa']}/sip-extensions/{ext['id']}") == ext


async def test_user_scope_needs_an_owner(api: Api) -> None:
    s = await sip_setup(api)
    target = {"type": "phone_number", "value": "+14155550199"}
    path = f"/provider-accounts/{s['pa']}/sip-extensions"
    body = {
        "extension": "77",
        "label": "Mine",
        "subtype": "start_new_call",
        "scope": "user",
        "type": "memory_key",
        "target": target,
    }
    err = await api.post(path, body, status=422)
    assert err["error"]["fields"] == {"owner_id": "required"}
    ext = await api.post(path, {**body, "owner_id": s["user"]["id"]})
    assert ext["owner_id"] == s["user"]["id"]
    err = await api.patch(f"{path}/{ext['id']}", {"owner_id": None}, status=422)
    assert err["error"]["fields"] == {"owner_id": "required"}
    moved = await api.patch(f"{path}/{ext['id']}", {"scope": "provider_account", "owner_id": None})
    assert moved["scope"] == "provider_account" and moved["owner_id"] is None
    err = await api.post(
        path,
        {**body, "extension": "78", "scope": "provider_account", "owner_id": s["user"]["id"]},
        status=422,
    )
    assert "owner_id" in err["error"]["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extension": "12ab"}, "extension"),
        ({"extension": "1" * 17}, "extension"),
        ({"label": "x" * 33}, "label"),
        ({"label": ""}, "label"),
        ({"subtype": "attended_transfer"}, "subtype"),
        ({"scope": "global"}, "scope"),
        ({"type": "line_key"}, "type"),
        ({"position": 0}, "position"),
        ({"position": 100}, "position"),
        ({"target": {"type": "phone_number", "value": "12"}}, "target.value"),
        ({"target": {"type": "pager", "id": "x"}}, "target"),
        ({"target": {"type": "channel"}}, "target.id"),
    ],
)
async def test_field_rules(api: Api, change: dict[str, Any], field: str) -> None:
    s = await sip_setup(api)
    body = {
        "extension": "55",
        "label": "Key",
        "subtype": "start_new_call",
        "scope": "provider_account",
        "type": "memory_key",
        "target": {"type": "phone_number", "value": "+14155550199"},
        **change,
    }
    err = await api.post(f"/provider-accounts/{s['pa']}/sip-extensions", body, status=422)
    assert field in err["error"]["fields"], err


async def test_targets_must_be_dialable(api: Api) -> None:
    s = await sip_setup(api)
    lonely_user = await make_user(api)
    other_account = await sip_setup(api)
    for target in (
        {"type": "agent", "id": lonely_user["id"]},
        {"type": "sip_user", "id": other_account["sip_user"]["id"]},
    ):
        err = await api.post(
            f"/provider-accounts/{s['pa']}/sip-extensions",
            {
                "extension": "56",
                "label": "Key",
                "subtype": "start_new_call",
                "scope": "provider_account",
                "type": "memory_key",
                "target": target,
            },
            status=422,
        )
        assert "target" in err["error"]["fields"], target
    err = await api.post(
        f"/provider-accounts/{s['pa']}/sip-extensions",
        {
            "extension": "56",
            "label": "Key",
            "subtype": "start_new_call",
            "scope": "provider_account",
            "type": "memory_key",
            "target": {"type": "queue", "id": "qu_doesnotexist"},
        },
        status=404,
    )
    assert err["error"]["fields"] == {"target.id": "not found"}


async def test_extension_unique_in_account(api: Api) -> None:
    s = await sip_setup(api)
    target = {"type": "phone_number", "value": "+14155550199"}
    await make_extension(api, s["pa"], target, extension="900")
    err = await api.post(
        f"/provider-accounts/{s['pa']}/sip-extensions",
        {
            "extension": "900",
            "label": "Dup",
            "subtype": "start_new_call",
            "scope": "provider_account",
            "type": "memory_key",
            "target": target,
        },
        status=409,
    )
    assert err["error"]["fields"] == {"extension": "already taken"}
    other = await make_account(api)
    # The same extension in another provider account is fine (after it has SIP set-up).
    s2 = await sip_setup(api)
    assert other["id"] != s2["pa"]
    await make_extension(api, s2["pa"], target, extension="900")


async def test_targets_in_use(api: Api) -> None:
    s = await sip_setup(api)
    t = await targets(api, s)
    made = {kind: await make_extension(api, s["pa"], target) for kind, target in t.items()}
    cases = {
        "channel": f"/channels/{t['channel']['id']}",
        "team": f"/teams/{t['team']['id']}",
        "queue": f"/queues/{t['queue']['id']}",
        "sip_user": f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}",
    }
    for kind, path in cases.items():
        err = await api.delete(path, status=409)
        assert {"type": "sip_extension", "id": made[kind]["id"]} in err["error"]["dependents"]
    err = await api.delete(f"/users/{s['user']['id']}", status=409)
    assert {"type": "sip_extension", "id": made["agent"]["id"]} in err["error"]["dependents"]
    for ext in made.values():
        await api.delete(f"/provider-accounts/{s['pa']}/sip-extensions/{ext['id']}")
    for path in cases.values():
        await api.delete(path)
