"""What the provider types differ in, behind one small interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from deskprov.domain import rules


@dataclass(frozen=True)
class NumberOffer:
    """A number the provider offers for sale."""

    phone_number: str
    sms: bool
    mms: bool
    voice: bool
    locality: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class BoughtNumber:
    sid: str
    sms: bool
    mms: bool
    voice: bool


class NumberMarket(Protocol):
    """Where an account searches for and buys phone numbers."""

    async def search(self, area_code: str) -> list[NumberOffer]: ...

    async def buy(self, phone_number: str) -> BoughtNumber: ...


@dataclass(frozen=True)
class Provider:
    name: str
    supports_sip: bool
    sells_numbers: bool
    required_credentials: tuple[str, ...] = ()
    # BLF keys subscribe to a colleague's dialog state, which only a registrar that answers
    # dialog SUBSCRIBEs can give; without one, keys to SIP users are plain speed dials.
    supports_blf: bool = False

    def domain_for(self, prefix: str, whippy_suffix: str) -> str:
        if self.name == "twilio":
            return f"{prefix}.sip.twilio.com"
        return f"{prefix}.sip.{whippy_suffix}"

    def credential_problems(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        """Why these credentials cannot be used, by field (empty when they can)."""
        problems: dict[str, str] = {}
        for name in self.required_credentials:
            if not isinstance(credentials.get(name), str) or not credentials[name]:
                problems[f"credentials.{name}"] = "required"
        for name, value in credentials.items():
            if not isinstance(value, str) or len(value) > 200:
                problems[f"credentials.{name}"] = "must be text of at most 200 characters"
            elif rules.has_control_characters(value):
                problems[f"credentials.{name}"] = "control characters are not allowed"
        sid = str(credentials.get("account_sid", ""))
        if (
            self.name == "twilio"
            and "credentials.account_sid" not in problems
            and not rules.TWILIO_ACCOUNT_SID.match(sid)
        ):
            problems["credentials.account_sid"] = "must be AC followed by 32 hex digits"
        return problems

    def sid_problem(self, sid: str) -> str | None:
        """Why ``sid`` is not a phone-number SID of this provider, or None."""
        if self.name in ("twilio", "whippy_phone"):
            return None if rules.PHONE_SID.match(sid) else "must be PN followed by 32 hex digits"
        return None if sid.isdigit() else "must be the number's numeric id at Meta"


PROVIDERS = {
    "twilio": Provider(
        "twilio",
        supports_sip=True,
        sells_numbers=True,
        required_credentials=("account_sid", "auth_token"),
    ),
    # Twilio documents no dialog SUBSCRIBE; whippy_phone's registrar (Kamailio) answers them.
    "whippy_phone": Provider(
        "whippy_phone", supports_sip=True, sells_numbers=True, supports_blf=True
    ),
    "meta": Provider("meta", supports_sip=False, sells_numbers=False),
}


def provider_for(name: str) -> Provider:
    return PROVIDERS[name]
