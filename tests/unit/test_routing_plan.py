"""The routing plan on its own (no database): every target type, strategy, number form and
caller-ID rule, and the explanation of a target nobody can answer."""

from __future__ import annotations

from typing import Any

import pytest

from deskprov.domain.routing import Target
from deskprov.services.routing.plan import ChannelRoute, Group, Key, RoutingPlan, SipEndpoint

DOMAIN = "acme.sip.twilio.com"


def sip(username: str) -> Target:
    return Target("sip", f"sip:{username}@{DOMAIN}")


def endpoint(username: str, user_id: str | None, channel_id: str | None = None) -> SipEndpoint:
    return SipEndpoint(f"su_{username}", username, f"sip:{username}@{DOMAIN}", user_id, channel_id)


def plan(**changes: Any) -> RoutingPlan:
    """Alice (two SIP users, front desk channel), Bob, Carol (her list is on no domain), Dave
    (no SIP user); keys to each kind of target; a team, two queues, channels."""
    data: dict[str, Any] = {
        "account_id": "pa_1",
        "sip_users": [
            endpoint("alice", "us_alice", "ch_front"),
            endpoint("alice-soft", "us_alice"),
            endpoint("bob", "us_bob"),
            SipEndpoint("su_carol", "carol", None, "us_carol", None),
            endpoint("101", None),  # a numeric username, shadowed by the key 101
        ],
        "keys": [
            Key("ex_1", "101", "Bob", "sip_user", "su_bob"),
            Key("ex_2", "102", "Alice", "agent", "us_alice"),
            Key("ex_3", "200", "Sales", "team", "tm_sales"),
            Key("ex_4", "300", "Support", "queue", "qu_support"),
            Key("ex_5", "301", "Billing", "queue", "qu_billing"),
            Key("ex_6", "400", "Front desk", "channel", "ch_front"),
            Key("ex_7", "900", "Mobile", "phone_number", "+14155550199"),
            Key("ex_8", "201", "Empty", "team", "tm_empty"),
            Key("ex_9", "202", "Ghosts", "team", "tm_ghosts"),
            Key("ex_10", "401", "Closed", "channel", "ch_closed"),
            Key("ex_11", "103", "Carol", "sip_user", "su_carol"),
        ],
        "groups": [
            Group("team", "tm_sales", "Sales", "700", ("us_bob", "us_alice", "us_bob")),
            Group("team", "tm_empty", "Empty", None, ()),
            Group("team", "tm_ghosts", "Ghosts", None, ("us_dave", "us_carol")),
            Group("queue", "qu_support", "Support", "600", ("us_bob", "us_alice"), "ring_all", 25),
            Group(
                "queue", "qu_billing", "Billing", "700", ("us_alice", "us_bob"), "sequential", 15
            ),
        ],
        "channels": [
            ChannelRoute("ch_front", "Front desk", "+14155550100", "queue", "qu_billing"),
            ChannelRoute("ch_closed", "Closed", "+14155550111", None, None),
            ChannelRoute("ch_agent", "Alice direct", "+14155550112", "agent", "us_alice"),
        ],
        "user_names": {"us_alice": "Alice", "us_bob": "Bob", "us_carol": "Carol"},
        "numbers": [("+14155550150", False), ("+14155550160", True), ("+14155550170", True)],
    }
    data.update(changes)
    return RoutingPlan(**data)


PLAN = plan()


def test_sip_user_key_and_username() -> None:
    d = PLAN.route("alice", "101")
    assert (d.kind, d.targets, d.strategy, d.reachable) == (
        "extension",
        (sip("bob"),),
        "ring_all",
        True,
    )
    assert d.reaches is not None and (d.reaches.type, d.reaches.id) == ("sip_user", "su_bob")
    assert d.caller_id is None and d.ring_seconds is None
    d = PLAN.route("alice", "bob")
    assert (d.kind, d.targets, d.dialled) == ("sip_user", (sip("bob"),), "bob")
    assert "SIP username" in d.explanation


def test_agent_rings_every_sip_user_they_own() -> None:
    d = PLAN.route("bob", "102")
    assert d.targets == (sip("alice"), sip("alice-soft")) and d.strategy == "ring_all"
    assert d.reaches is not None and d.reaches.type == "agent" and d.reaches.name == "Alice"


def test_team_rings_members_once_each_in_order() -> None:
    d = PLAN.route("alice", "200")
    assert d.targets == (sip("bob"), sip("alice"), sip("alice-soft"))
    assert (d.kind, d.strategy, d.ring_seconds) == ("extension", "ring_all", None)


@pytest.mark.parametrize(
    ("dialled", "strategy", "seconds", "order"),
    [
        ("300", "ring_all", 25, ["bob", "alice", "alice-soft"]),
        ("301", "sequential", 15, ["alice", "alice-soft", "bob"]),
    ],
)
def test_queue_strategies(dialled: str, strategy: str, seconds: int, order: list[str]) -> None:
    d = PLAN.route("bob", dialled)
    assert (d.strategy, d.ring_seconds) == (strategy, seconds)
    assert d.targets == tuple(sip(u) for u in order)
    assert ("one at a time" in d.explanation) == (strategy == "sequential")


def test_channel_key_follows_the_channels_route() -> None:
    d = PLAN.route("bob", "400")
    assert d.strategy == "sequential" and d.targets[0] == sip("alice")
    assert d.reaches is not None and (d.reaches.type, d.reaches.id) == ("channel", "ch_front")
    assert "Front desk" in d.explanation and "Billing" in d.explanation


def test_group_extensions_after_key_extensions() -> None:
    assert PLAN.route("bob", "600").reaches.id == "qu_support"  # type: ignore[union-attr]
    # 700 is the extension of the team Sales and of the queue Billing: the first created wins.
    assert PLAN.route("bob", "700").reaches.id == "tm_sales"  # type: ignore[union-attr]
    # A key's extension shadows a SIP username that looks the same.
    assert PLAN.route("bob", "101").targets == (sip("bob"),)


@pytest.mark.parametrize(
    ("dialled", "why"),
    [
        ("201", "has no members"),
        ("202", "none of the 2 member(s)"),
        ("401", "has no route"),
        ("103", "attached to no SIP domain"),
    ],
)
def test_nobody_can_answer_is_explained(dialled: str, why: str) -> None:
    d = PLAN.route("bob", dialled)
    assert d.kind == "extension" and d.targets == () and not d.reachable
    assert why in d.explanation, d.explanation
    assert d.reaches is not None  # says what was reached, even though nobody answers


def test_pstn_caller_id_rules() -> None:
    # Alice's SIP user has the front desk channel: its number.
    assert PLAN.route("alice", "900").caller_id == "+14155550100"
    # Bob has no channel: the account's first number with voice (not the first number).
    d = PLAN.route("bob", "900")
    assert (d.kind, d.targets, d.caller_id) == (
        "extension",
        (Target("number", "+14155550199"),),
        "+14155550160",
    )
    assert d.reachable
    # A channel without a number: still the account's number.
    channels = [ChannelRoute("ch_front", "Front desk", None, None, None)]
    assert plan(channels=channels).route("alice", "900").caller_id == "+14155550160"
    # No caller ID at all: the call cannot be placed, and says why.
    d = plan(numbers=[("+14155550150", False)]).route("bob", "+14155550123")
    assert d.kind == "pstn" and d.caller_id is None and not d.reachable
    assert "no caller ID" in d.explanation
    assert PLAN.caller_id("alice") == "+14155550100" and PLAN.caller_id(None) == "+14155550160"


@pytest.mark.parametrize(
    ("dialled", "number"),
    [
        ("+14155550123", "+14155550123"),
        ("4155550123", "+14155550123"),
        ("(415) 555-0123", "+14155550123"),
        ("14155550123", "+14155550123"),
        ("011 44 20 7183 8750", "+442071838750"),
        ("911", "911"),
    ],
)
def test_numbers_in_the_accounts_region(dialled: str, number: str) -> None:
    d = PLAN.route("bob", dialled)
    assert (d.kind, d.targets) == ("pstn", (Target("number", number),))
    assert d.dialled == dialled and d.caller_id == "+14155550160"


def test_the_region_comes_from_the_accounts_numbers() -> None:
    london = plan(numbers=[("+442071838750", True)])
    assert london.region == "GB"
    assert london.route("bob", "020 7183 8751").targets == (Target("number", "+442071838751"),)
    assert london.route("bob", "999").targets == (Target("number", "999"),)  # emergency in GB
    assert plan(numbers=[]).region == "US"


@pytest.mark.parametrize("dialled", ["555", "+15550001", "nobody", "1-800-FLOWERS", "*72", ""])
def test_anything_else_is_unknown(dialled: str) -> None:
    d = PLAN.route("bob", dialled)
    assert (d.kind, d.targets, d.reaches, d.reachable) == ("unknown", (), None, False)
    assert "not an extension" in d.explanation


def test_a_caller_outside_the_account_reaches_nothing() -> None:
    d = PLAN.route("mallory", "900")
    assert d.kind == "unknown" and d.targets == () and "mallory" in d.explanation
    # No caller named: a SIP user without a channel.
    assert PLAN.route(None, "900").caller_id == "+14155550160"


def test_inbound_calls_follow_the_channel_of_the_number() -> None:
    d = PLAN.inbound("+14155550112")
    assert (d.kind, d.targets, d.strategy) == (
        "inbound",
        (sip("alice"), sip("alice-soft")),
        "ring_all",
    )
    assert PLAN.inbound("+14155550100").strategy == "sequential"
    closed = PLAN.inbound("+14155550111")
    assert not closed.reachable and "has no route" in closed.explanation
    assert PLAN.inbound("+19995550000").kind == "unknown"


def test_dialable_lists_every_extension_and_username_once() -> None:
    table = {d.dialled: d for d in PLAN.dialable()}
    keys = {"101", "102", "103", "200", "201", "202", "300", "301", "400", "401", "900"}
    assert set(table) == keys | {"600", "700", "alice", "alice-soft", "bob", "carol"}
    assert table["101"].targets == (sip("bob"),)  # the key, not the SIP username "101"
    assert table["600"].reaches.id == "qu_support"  # type: ignore[union-attr]
    assert table["carol"].kind == "sip_user" and not table["carol"].reachable
    assert table["900"].caller_id == PLAN.caller_id(None)
