"""What a call reaches: the routing plan's decision, as every rendering of it sees it (the route
API, the TwiML webhooks, a registrar's tables). No HTTP, no SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# extension, sip_user, pstn, unknown: a call from a SIP user (the route API's kinds);
# inbound: a call from outside to one of the organisation's numbers (the webhooks only).
Kind = Literal["extension", "sip_user", "pstn", "unknown", "inbound"]
Strategy = Literal["ring_all", "sequential"]


@dataclass(frozen=True)
class Target:
    """One party to ring: a SIP URI, or a phone number on the public network."""

    type: Literal["sip", "number"]
    value: str  # sip:alice@acme.sip.twilio.com, or +14155550100 (an emergency number as dialled)


@dataclass(frozen=True)
class Reaches:
    """The resource a dialled string names (for an extension, the key's or group's target)."""

    type: Literal["sip_user", "agent", "team", "queue", "channel", "phone_number"]
    id: str  # the resource's id; the E.164 number for phone_number
    name: str


@dataclass(frozen=True)
class Decision:
    """What a call to ``dialled`` reaches. ``targets`` ring all at once (``ring_all``) or one
    after the other, ``ring_seconds`` each (``sequential``). A PSTN call carries ``caller_id``.
    ``explanation`` says why, in a sentence, above all when nobody can answer."""

    dialled: str
    kind: Kind
    explanation: str
    targets: tuple[Target, ...] = ()
    strategy: Strategy | None = None
    ring_seconds: int | None = None
    caller_id: str | None = None
    reaches: Reaches | None = None

    @property
    def reachable(self) -> bool:
        """Something can ring: a target, and for the public network a caller ID to send."""
        needs_caller_id = any(t.type == "number" for t in self.targets)
        return bool(self.targets) and (self.caller_id is not None or not needs_caller_id)
