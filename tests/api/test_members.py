"""Team and queue members, queue strategy and ring time, channel routes: rules and in-use."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import make_extension, make_user, sip_setup


async def test_members_strategy_and_ring_time(api: Api) -> None:
    alice, bob, carol = [await make_user(api) for _ in range(3)]
    team = await api.post("/teams", {"name": "Sales", "member_ids": [bob["id"], alice["id"]]})
    assert team["member_ids"] == [bob["id"], alice["id"]]  # in the order given
    queue = await api.post("/queues", {"name": "Support"})
    assert (queue["member_ids"], queue["strategy"], queue["ring_seconds"]) == ([], "ring_all", 20)
    queue = await api.patch(
        f"/queues/{queue['id']}",
        {"member_ids": [carol["id"], alice["id"]], "strategy": "sequential", "ring_seconds": 5},
    )
    assert (queue["member_ids"], queue["strategy"], queue["ring_seconds"]) == (
        [carol["id"], alice["id"]],
        "sequential",
        5,
    )
    assert await api.get(f"/queues/{queue['id']}") == queue
    team = await api.patch(f"/teams/{team['id']}", {"member_ids": [carol["id"]]})
    assert team["member_ids"] == [carol["id"]]  # replaced as a whole
    assert (await api.patch(f"/teams/{team['id']}", {"name": "Sales 2"}))["member_ids"] == [
        carol["id"]
    ]


async def test_bad_members_change_nothing(api: Api, other_api: Api) -> None:
    alice = await make_user(api)
    stranger = await make_user(other_api)
    queue = await api.post("/queues", {"name": "Support", "member_ids": [alice["id"]]})
    path = f"/queues/{queue['id']}"
    for body, status, field in (
        ({"member_ids": [alice["id"], alice["id"]]}, 422, "member_ids.1"),
        ({"member_ids": [alice["id"], stranger["id"]]}, 404, "member_ids.1"),
        ({"member_ids": None}, 422, "member_ids"),
        ({"ring_seconds": 4}, 422, "ring_seconds"),
        ({"ring_seconds": 121}, 422, "ring_seconds"),
        ({"strategy": "round_robin"}, 422, "strategy"),
    ):
        err = await api.patch(path, body, status=status)
        assert field in err["error"]["fields"], body
    assert await api.get(path) == queue
    err = await api.post("/teams", {"name": "T", "member_ids": ["us_nothere"]}, status=404)
    assert err["error"]["fields"] == {"member_ids.0": "not found"}
    assert (await api.get("/teams"))["items"] == []


async def test_deleting_a_user_removes_their_memberships(api: Api) -> None:
    alice, bob = await make_user(api), await make_user(api)
    team = await api.post("/teams", {"name": "Sales", "member_ids": [alice["id"], bob["id"]]})
    queue = await api.post("/queues", {"name": "Support", "member_ids": [alice["id"]]})
    await api.delete(f"/users/{alice['id']}")
    assert (await api.get(f"/teams/{team['id']}"))["member_ids"] == [bob["id"]]
    assert (await api.get(f"/queues/{queue['id']}"))["member_ids"] == []
    # Deleting a team or queue takes its memberships with it (the member stays).
    await api.delete(f"/teams/{team['id']}")
    await api.delete(f"/queues/{queue['id']}")
    await api.delete(f"/users/{bob['id']}")


async def test_channel_routes(api: Api, other_api: Api) -> None:
    s = await sip_setup(api)
    team = await api.post("/teams", {"name": "Sales"})
    channel = await api.post(
        "/channels",
        {
            "name": "Front desk",
            "phone_number": "+14155550100",
            "route": {"type": "team", "id": team["id"]},
        },
    )
    assert channel["route"] == {"type": "team", "id": team["id"]}
    for route in (
        {"type": "sip_user", "id": s["sip_user"]["id"]},
        {"type": "agent", "id": s["user"]["id"]},
    ):
        assert (await api.patch(f"/channels/{channel['id']}", {"route": route}))["route"] == route
    assert (await api.patch(f"/channels/{channel['id']}", {"route": None}))["route"] is None
    foreign = await other_api.post("/teams", {"name": "Theirs"})
    err = await api.patch(
        f"/channels/{channel['id']}", {"route": {"type": "team", "id": foreign["id"]}}, status=404
    )
    assert err["error"]["fields"] == {"route.id": "not found"}
    err = await api.patch(
        f"/channels/{channel['id']}",
        {"route": {"type": "phone_number", "id": team["id"]}},
        status=422,
    )
    assert "route.type" in err["error"]["fields"]
    assert (await api.get(f"/channels/{channel['id']}"))["route"] is None


async def test_what_keys_and_routes_use_cannot_be_deleted(api: Api) -> None:
    s = await sip_setup(api)
    pa = s["pa"]
    team = await api.post("/teams", {"name": "Sales"})
    queue = await api.post("/queues", {"name": "Support"})
    key = await make_extension(api, pa, {"type": "team", "id": team["id"]})
    routed = {}
    for route in (
        {"type": "queue", "id": queue["id"]},
        {"type": "agent", "id": s["user"]["id"]},
        {"type": "sip_user", "id": s["sip_user"]["id"]},
    ):
        routed[route["type"]] = await api.post("/channels", {"name": "C", "route": route})
    err = await api.delete(f"/teams/{team['id']}", status=409)
    assert err["error"]["dependents"] == [{"type": "sip_extension", "id": key["id"]}]
    err = await api.delete(f"/queues/{queue['id']}", status=409)
    assert err["error"]["dependents"] == [{"type": "channel", "id": routed["queue"]["id"]}]
    err = await api.delete(f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}", status=409)
    assert {"type": "channel", "id": routed["sip_user"]["id"]} in err["error"]["dependents"]
    err = await api.delete(f"/users/{s['user']['id']}", status=409)
    assert {"type": "channel", "id": routed["agent"]["id"]} in err["error"]["dependents"]
    # Once nothing points at it, it goes.
    await api.patch(f"/channels/{routed['queue']['id']}", {"route": None})
    await api.delete(f"/queues/{queue['id']}")
