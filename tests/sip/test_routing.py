"""Calls routed by the routing plan inside Kamailio, end to end: teams ring every member's phone,
a sequential queue rings them in turn, numbers go to the PSTN gateway with the plan's caller ID,
calls in from the gateway follow their channel, and every change counts at the next INVITE."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deskprov.settings import Settings
from tests.conftest import Api
from tests.factories import make_extension, make_sip_user, make_user, sip_setup
from tests.sip import scenarios
from tests.sip.harness import Kamailio, Phone, Sipped, free_port, needs_kamailio

pytestmark = needs_kamailio
PASSWORD = "Sup3rSecretPass"
GATEWAY_HOST = "127.0.0.2"  # the gateway's own loopback address: Kamailio knows it by it


@dataclass
class Office:
    """One whippy_phone account: its id, domain and credential list, and Kamailio."""

    api: Api
    kamailio: Kamailio
    folder: Path
    pa: str
    domain: str
    cred_list: str

    def phone(self, username: str) -> Phone:
        return Phone(self.kamailio, self.folder, username, PASSWORD, self.domain)

    async def person(self, name: str, **sip: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """A user and the SIP user they own (username: the name in lower case)."""
        user = await make_user(self.api, name=name)
        sip_user = await make_sip_user(
            self.api, self.pa, self.cred_list, username=name.lower(), user_id=user["id"], **sip
        )
        return user, sip_user

    async def answering(self, username: str, scenario: str, **keys: str) -> asyncio.Task[Sipped]:
        """``username``'s phone registered and waiting to play ``scenario`` on its port."""
        phone = self.phone(username)
        task = await phone.start(scenario, **keys)
        register = scenarios.register(200, contact_port=str(phone.port))
        (await self.phone(username).run(register)).check()
        return task

    async def key(self, extension: str, target: dict[str, Any]) -> Any:
        return await make_extension(
            self.api, self.pa, target, extension=extension, label=f"Key {extension}"
        )


async def office(api: Api, kamailio: Kamailio, folder: Path) -> Office:
    s = await sip_setup(api, "whippy_phone")  # (its SIP user is left alone here)
    return Office(api, kamailio, folder, s["pa"], s["domain"]["domain"], s["list"]["id"])


async def test_a_team_rings_everyone_and_changes_count_at_the_next_call(
    api: Api, kamailio: Kamailio, tmp_path: Path
) -> None:
    o = await office(api, kamailio, tmp_path)
    await o.person("Alice")
    bob, _ = await o.person("Bob")
    carol, _ = await o.person("Carol")
    dave, _ = await o.person("Dave")
    _, erin_sip = await o.person("Erin")
    team = await api.post("/teams", {"name": "Sales", "member_ids": [bob["id"], carol["id"]]})
    key = await o.key("200", {"type": "team", "id": team["id"]})
    await o.key("101", {"type": "sip_user", "id": erin_sip["id"]})

    # Alice dials the team: Bob's and Carol's phones both ring; Bob answers (Carol's stops).
    # Alice then transfers Bob to 101 (a key to Erin): Bob's phone calls 101, Erin answers.
    bob_phone = await o.answering("bob", scenarios.transferee(), transfer_to="101")
    carol_phone = await o.answering("carol", scenarios.rings())
    erin_phone = await o.answering("erin", scenarios.callee(transfer=False))
    alice = o.phone("alice")
    (await alice.run(scenarios.call(200), target="200", transfer_to="101")).check()
    transferred = (await bob_phone).check()
    assert "Refer-To: <sip:101@" in transferred.messages
    assert "CANCEL sip:carol@" in (await carol_phone).check().messages
    reached = (await erin_phone).check().messages
    assert f"From: <sip:bob@{o.domain}>" in reached and "INVITE sip:erin@" in reached

    # Bob and Carol leave the team and Dave (no phone registered) joins: nobody to ring.
    await api.patch(f"/teams/{team['id']}", {"member_ids": [dave["id"]]})
    refused = (await alice.run(scenarios.call(480), target="200")).check()
    assert (
        "480 Temporarily Unavailable - not registered: 200 is the extension of the key "
        "'Key 200': team Sales rings its members' 1 SIP user(s) all at once"
    ) in scenarios.statuses(refused.messages)
    # A team nobody is in: the plan's reason.
    await api.patch(f"/teams/{team['id']}", {"member_ids": []})
    refused = (await alice.run(scenarios.call(480), target="200")).check()
    assert (
        "480 Temporarily Unavailable - 200 is the extension of the key 'Key 200': team Sales has "
        "no members: nobody can answer"
    ) in scenarios.statuses(refused.messages)
    # The key deleted: 200 is nothing any more. Nor is an extension nobody has.
    await api.delete(f"/provider-accounts/{o.pa}/sip-extensions/{key['id']}")
    for dialled in ("200", "999"):
        refused = (await alice.run(scenarios.call(404), target=dialled)).check()
        assert scenarios.statuses(refused.messages)[-1].startswith("404 Not Found - not an ")


async def test_a_sequential_queue_rings_its_members_in_turn(
    api: Api, kamailio: Kamailio, tmp_path: Path
) -> None:
    o = await office(api, kamailio, tmp_path)
    await o.person("Alice")
    members = [await o.person(name) for name in ("Bob", "Carol", "Dave")]
    queue = await api.post(
        "/queues",
        {
            "name": "Support",
            "extension": "600",  # the queue's own extension: no key needed
            "member_ids": [user["id"] for user, _ in members],
            "strategy": "sequential",
            "ring_seconds": 5,
        },
    )
    assert queue["ring_seconds"] == 5
    # Bob's phone rings and nobody answers; Carol has no phone registered (skipped); Dave's
    # phone rings once Bob's ring time is over, and Dave answers.
    bob_phone = await o.answering("bob", scenarios.rings())
    dave_phone = await o.answering("dave", scenarios.callee(transfer=False))
    loop = asyncio.get_running_loop()
    started = loop.time()
    (await o.phone("alice").run(scenarios.call(200, transfer=False), target="600")).check()
    assert "CANCEL sip:bob@" in (await bob_phone).check().messages
    assert "INVITE sip:dave@" in (await dave_phone).check().messages
    assert 5 <= loop.time() - started < 10


@pytest.fixture
def gateway_port() -> int:
    return free_port(GATEWAY_HOST)


@pytest.fixture
def settings(settings: Settings, gateway_port: int) -> Settings:
    """Calls to numbers go to a gateway (sipp) on its own loopback address."""
    return settings.model_copy(update={"kamailio_pstn_gateway": f"{GATEWAY_HOST}:{gateway_port}"})


async def test_numbers_go_out_with_the_plans_caller_id_and_come_in_by_their_channel(
    api: Api, kamailio: Kamailio, gateway_port: int, tmp_path: Path
) -> None:
    o = await office(api, kamailio, tmp_path)
    # The account's number (voice) rings the front desk channel, which goes to Bob; Alice's
    # own line is a channel with a number of its own.
    number = "+14155550100"
    await api.post(
        f"/provider-accounts/{o.pa}/phones",
        {
            "setup_type": "manual",
            "phone_number": number,
            "sid": "PN" + "0" * 32,
            "capabilities": {"voice": True},
        },
    )
    line = await api.post("/channels", {"name": "Alice's line", "phone_number": "+14155550111"})
    await o.person("Alice", channel_id=line["id"])
    _, bob_sip = await o.person("Bob")
    await api.post(
        "/channels",
        {
            "name": "Front desk",
            "phone_number": number,
            "route": {"type": "sip_user", "id": bob_sip["id"]},
        },
    )
    await o.key("900", {"type": "phone_number", "value": "+14155550199"})

    def gateway() -> Phone:
        return Phone(kamailio, tmp_path, "gw", "x", "gw.example", gateway_port, GATEWAY_HOST)

    # Out: a key to a number (Alice: her channel's number), a number dialled (Bob: the
    # account's first number with voice).
    for caller, dialled, to, caller_id in (
        ("alice", "900", "+14155550199", "+14155550111"),
        ("bob", "+442071838750", "+442071838750", number),
    ):
        answering = await gateway().start(scenarios.callee(transfer=False))
        (await o.phone(caller).run(scenarios.call(200, transfer=False), target=dialled)).check()
        received = (await answering).check().messages
        assert f"INVITE sip:{to}@{GATEWAY_HOST}:{gateway_port} SIP/2.0" in received
        assert f"P-Asserted-Identity: <tel:{caller_id}>" in received

    # In: the gateway calls the number; the front desk's route rings Bob's phone.
    bob_phone = await o.answering("bob", scenarios.callee(transfer=False))
    (await gateway().run(scenarios.from_gateway(), target=number)).check()
    assert "INVITE sip:bob@" in (await bob_phone).check().messages
    # A number no channel of ours has, from the gateway: 404; from anyone else: refused.
    sipped = (await gateway().run(scenarios.from_gateway(404), target="+14155550177")).check()
    assert "404 Not Found - not one of our numbers" in scenarios.statuses(sipped.messages)

    # Another office with no number: its calls out have no caller ID to send.
    other = await sip_setup(api, "whippy_phone")
    lonely = Phone(
        kamailio, tmp_path, other["sip_user"]["username"], PASSWORD, other["domain"]["domain"]
    )
    sipped = (await lonely.run(scenarios.call(403), target="+14155550199")).check()
    assert (
        "403 Forbidden - no caller ID for calls to numbers (no channel number, no number "
        "with voice)"
    ) in scenarios.statuses(sipped.messages)
