"""Organisation-level resources: API keys, users, channels, teams, queues, provider accounts,
devices and audit events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from deskprov.domain import rules
from deskprov.domain.roles import RoleName
from deskprov.schemas.common import (
    E164,
    Body,
    Extension,
    Id,
    ListQuery,
    Name,
    Text,
    Timestamp,
    View,
)

Email = Annotated[Text, StringConstraints(max_length=254, pattern=rules.EMAIL.pattern)]
ProviderName = Literal["twilio", "meta", "whippy_phone"]


class OrganisationCreate(Body):
    """An organisation, as `deskprov org create` makes it."""

    name: Name


class ApiKeyCreate(Body):
    name: Name
    role: RoleName


class ApiKeyUpdate(Body):
    name: Name | None = None


class ApiKeyView(View):
    id: str
    name: str
    role: RoleName
    created_at: Timestamp
    last_used_at: Timestamp | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="the key itself: shown in this response only, never again")


class UserCreate(Body):
    name: Name
    email: Email


class UserUpdate(Body):
    name: Name | None = None
    email: Email | None = None


class UserView(View):
    id: str
    name: str
    email: str
    created_at: Timestamp


class ChannelRoute(Body):
    """Where calls to a channel's number go."""

    type: Literal["sip_user", "agent", "team", "queue"] = Field(description="agent is a user id")
    id: Id


class ChannelRouteView(View):
    type: Literal["sip_user", "agent", "team", "queue"]
    id: str


class ChannelCreate(Body):
    name: Name
    phone_number: E164 | None = None
    route: ChannelRoute | None = Field(None, description="where calls to the number go")


class ChannelUpdate(Body):
    name: Name | None = None
    phone_number: E164 | None = None
    route: ChannelRoute | None = None


class ChannelView(View):
    id: str
    name: str
    phone_number: str | None
    route: ChannelRouteView | None
    created_at: Timestamp


MemberIds = Annotated[
    list[Id], Field(max_length=500, description="user ids, in the order a sequential queue rings")
]
Strategy = Literal["ring_all", "sequential"]
RingSeconds = Annotated[int, Field(ge=5, le=120, description="how long each member rings")]


class GroupCreate(Body):
    """A team (a queue adds its strategy)."""

    name: Name
    extension: Extension | None = None
    member_ids: MemberIds = Field(default_factory=list)


class GroupUpdate(Body):
    name: Name | None = None
    extension: Extension | None = None
    member_ids: MemberIds | None = None


class GroupView(View):
    id: str
    name: str
    extension: str | None
    member_ids: list[str]
    created_at: Timestamp


class QueueCreate(GroupCreate):
    strategy: Strategy = "ring_all"
    ring_seconds: RingSeconds = 20


class QueueUpdate(GroupUpdate):
    strategy: Strategy | None = None
    ring_seconds: RingSeconds | None = None


class QueueView(GroupView):
    strategy: Strategy
    ring_seconds: int


Credentials = dict[str, Any]


Edge = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    Field(
        description="twilio only: the edge location phones register through "
        "(<prefix>.sip.<edge>.twilio.com), e.g. ashburn, dublin, frankfurt"
    ),
]


class ProviderAccountCreate(Body):
    name: Name
    provider: ProviderName
    credentials: Credentials | None = Field(
        None,
        description="provider-specific and write-only; twilio: account_sid and auth_token, "
        "checked with Twilio when set",
    )
    edge: Edge | None = None


class ProviderAccountUpdate(Body):
    name: Name | None = None
    credentials: Credentials | None = None
    edge: Edge | None = None


class ProviderAccountView(View):
    id: str
    name: str
    provider: ProviderName
    has_credentials: bool
    edge: str | None
    created_at: Timestamp


class UserQuery(ListQuery):
    email: Email | None = Field(None, description="only the user with this email (any case)")


class DeviceQuery(ListQuery):
    provisioning_url_id: Id | None = Field(None, description="only phones of this URL")
    user_id: Id | None = Field(None, description="only phones of this user")
    provider_account_id: Id | None = Field(
        None, description="only phones of this provider account's URLs"
    )


class AuditQuery(ListQuery):
    actor: Text | None = Field(None, max_length=64, description="ak_..., device:<mac> or cli")
    action: Text | None = Field(
        None, max_length=64, description="an action (sip_user.create), or a kind (sip_user)"
    )
    target_type: Text | None = Field(None, max_length=32)
    target_id: Text | None = Field(None, max_length=64)


class DeviceView(View):
    id: str
    mac: str
    vendor: str | None
    model: str | None
    firmware: str | None
    user_id: str | None
    provisioning_url_id: str | None
    first_seen: Timestamp
    last_seen: Timestamp
    last_ip: str | None
    last_file: str | None
    last_result: str | None
    registered: bool | None = Field(
        default=None,
        description="whether deskprov's registrar (whippy_phone) has a registration from this "
        "phone (matched by MAC or address); null when it cannot tell",
    )


class AuditEventView(View):
    id: str
    at: Timestamp
    actor: str
    action: str
    target_type: str
    target_id: str | None
    detail: dict[str, Any]
