"""The route API: what a call from a SIP user to a dialled string reaches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from deskprov.schemas.account import SipUsername
from deskprov.schemas.common import Query, View


class RouteQuery(Query):
    caller: SipUsername | None = Field(
        None,
        alias="from",
        description="the calling SIP user's username (absent: a SIP user without a channel)",
    )


class RouteTargetView(View):
    type: Literal["sip", "number"]
    value: str = Field(examples=["sip:alice@acme.sip.twilio.com", "+14155550100"])


class ReachesView(View):
    type: Literal["sip_user", "agent", "team", "queue", "channel", "phone_number"]
    id: str
    name: str


class RouteView(View):
    dialled: str
    kind: Literal["extension", "sip_user", "pstn", "unknown"]
    strategy: Literal["ring_all", "sequential"] | None
    ring_seconds: int | None
    caller_id: str | None
    targets: list[RouteTargetView]
    reachable: bool = Field(description="something can ring (and a PSTN call has a caller ID)")
    explanation: str = Field(description="why, in a sentence; says who is missing when nobody can")
    reaches: ReachesView | None = Field(description="what the dialled string names")
