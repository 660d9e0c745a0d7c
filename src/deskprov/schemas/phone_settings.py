"""Phone settings of a provider account (what its phones are set to besides lines and keys)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from deskprov.domain import rules
from deskprov.domain.timezones import is_zone
from deskprov.schemas.common import Body, Text, View


def _zone(value: str) -> str:
    if not is_zone(value):
        raise ValueError("must be an IANA time zone name, for example Europe/Paris")
    return value


TimeZone = Annotated[
    Text,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_zone),
    Field(description="IANA time zone name", examples=["Europe/Paris"]),
]
HostName = Annotated[
    Text,
    StringConstraints(max_length=253, pattern=rules.HOST_NAME.pattern),
    Field(description="a host name or IPv4 address", examples=["pool.ntp.org"]),
]
Language = Annotated[
    Text,
    StringConstraints(max_length=35, pattern=rules.LANGUAGE_TAG.pattern),
    Field(description="BCP 47 language tag", examples=["fr-FR"]),
]
VoicemailNumber = Annotated[
    str,
    StringConstraints(pattern=rules.EXTENSION.pattern),
    Field(description="1-16 digits, * or #", examples=["*97"]),
]
ModelName = Annotated[Text, StringConstraints(pattern=rules.MODEL_NAME.pattern)]
FirmwareUrl = Annotated[
    Text,
    StringConstraints(max_length=500, pattern=rules.FIRMWARE_URL.pattern),
    Field(description="http or https URL of the firmware image"),
]
Transport = Literal["udp", "tcp", "tls"]
Srtp = Literal["off", "optional", "required"]
PollMinutes = Annotated[int, Field(ge=5, le=10080, description="5 minutes to a week")]
KeepAlive = Annotated[int, Field(ge=0, le=3600, description="seconds; 0 turns keep-alive off")]


class PhoneSettingsUpdate(Body):
    """Fields sent are changed; null puts a field back to its default."""

    timezone: TimeZone | None = None
    ntp_servers: Annotated[list[HostName], Field(min_length=1, max_length=2)] | None = None
    language: Language | None = None
    voicemail_number: VoicemailNumber | None = None
    transport: Transport | None = None
    srtp: Srtp | None = None
    poll_minutes: PollMinutes | None = None
    nat_keepalive_seconds: KeepAlive | None = None
    firmware: Annotated[dict[ModelName, FirmwareUrl], Field(max_length=100)] | None = None


class PhoneSettingsView(View):
    timezone: str = Field(description="IANA name; UTC by default")
    ntp_servers: list[str]
    language: str | None = Field(description="null: each phone keeps its own language")
    voicemail_number: str | None
    transport: Transport
    srtp: Srtp
    poll_minutes: int
    nat_keepalive_seconds: int
    firmware: dict[str, str] = Field(description="model name -> firmware URL")
    has_admin_password: bool = Field(
        description="the phones' admin password exists (generated on first use); read it only "
        "through reveal-admin-password"
    )


class AdminPassword(View):
    password: str
