"""What the provider types differ in, behind one small interface.

``Provider`` holds the facts of a provider type (SIP or not, sells numbers, credentials, names).
A provider that hosts SIP objects itself (twilio) is reached through a ``SipHost``; numbers are
searched, bought, confirmed and released through a ``NumberMarket``. Both are called by services
with no database transaction open; each call either does all of its work at the provider or,
when it fails half-way, takes back what it did before raising.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from deskprov.domain import rules

log = logging.getLogger(__name__)

# Twilio's edge locations for SIP registration (../shared/reference/README.md).
TWILIO_EDGES = (
    "ashburn",
    "dublin",
    "frankfurt",
    "sao-paulo",
    "singapore",
    "sydney",
    "tokyo",
    "umatilla",
)


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
class OwnedNumber:
    """A number in the provider account, as the provider describes it."""

    sid: str
    phone_number: str
    sms: bool
    mms: bool
    voice: bool
    hosted: bool = False
    voice_url: str | None = None  # where the provider sends its calls
    voice_method: str | None = None
    calls_taken_by: str | None = None  # an application or trunk used before any voice URL


class NumberMarket(Protocol):
    """Where an account searches for, buys, confirms and releases phone numbers. A number
    bought sends its calls to deskprov's voice webhook (``voice_url``)."""

    def voice_url(self) -> str: ...

    async def search(self, area_code: str) -> list[NumberOffer]: ...

    async def buy(self, phone_number: str) -> OwnedNumber: ...

    async def fetch(self, sid: str) -> OwnedNumber | None:
        """The number with this SID in the account, or None when the account has none."""
        ...

    async def release(self, sid: str) -> None:
        """Give the number back for good (done already is fine)."""
        ...

    async def numbers(self) -> list[OwnedNumber]:
        """Every number in the account."""
        ...

    async def send_calls_here(self, sid: str) -> None:
        """Point the number's voice webhook at deskprov again."""
        ...


def calls_come_here(number: OwnedNumber, voice_url: str) -> bool:
    return (
        number.calls_taken_by is None
        and number.voice_url == voice_url
        and (number.voice_method or "POST") == "POST"
    )


# --- SIP objects hosted at the provider ----------------------------------------------------


@dataclass(frozen=True)
class RemoteDomain:
    sid: str
    domain_name: str
    friendly_name: str
    voice_url: str | None
    voice_method: str | None
    sip_registration: bool


@dataclass(frozen=True)
class RemoteList:
    sid: str
    friendly_name: str


@dataclass(frozen=True)
class RemoteCredential:
    sid: str
    list_sid: str
    username: str


MAPPING_KINDS = ("registrations", "calls")


@dataclass(frozen=True)
class RemoteState:
    """Everything a provider account holds of the SIP objects and phone numbers deskprov
    manages. A mapping is (domain SID, list SID, kind), kind one of ``MAPPING_KINDS``."""

    domains: tuple[RemoteDomain, ...] = ()
    lists: tuple[RemoteList, ...] = ()
    credentials: tuple[RemoteCredential, ...] = ()
    mappings: frozenset[tuple[str, str, str]] = frozenset()
    numbers: tuple[OwnedNumber, ...] = ()


class Progress(Protocol):
    """Told how much work a long provider run has (``grow``) and how much is done."""

    def grow(self, steps: int) -> None: ...

    def advance(self, steps: int = 1) -> None: ...


class NoProgress:
    def grow(self, steps: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


class SipHost(Protocol):
    """A provider account that hosts SIP domains, credential lists, credentials and the lists'
    mappings to domains (registrations and calls) itself. Deletes of what is already gone
    succeed. Refusals raise ``Conflict``/``Invalid`` naming our field; failures raise
    ``ProviderError``."""

    def domain_name(self, prefix: str) -> str: ...

    def voice_url(self) -> str: ...

    async def create_domain(self, prefix: str, name: str) -> str:
        """The new domain's SID. It accepts registrations and sends calls to deskprov."""
        ...

    async def update_domain(self, sid: str, name: str) -> None:
        """Set its name, and its registration and voice webhook back to what deskprov wants."""
        ...

    async def delete_domain(self, sid: str) -> None: ...

    async def create_list(self, name: str) -> str: ...

    async def rename_list(self, sid: str, name: str) -> None: ...

    async def delete_list(self, sid: str) -> None: ...

    async def create_credential(self, list_sid: str, username: str, password: str) -> str: ...

    async def set_password(self, list_sid: str, sid: str, password: str) -> None: ...

    async def delete_credential(self, list_sid: str, sid: str) -> None: ...

    async def map(self, domain_sid: str, list_sid: str, kind: str) -> None: ...

    async def unmap(self, domain_sid: str, list_sid: str, kind: str) -> None: ...

    async def state(self, progress: Progress) -> RemoteState: ...


async def attach(host: SipHost, domain_sid: str, list_sid: str, undo: Undo) -> None:
    """A credential list attached to a domain: mapped for registrations AND for calls."""
    for kind in MAPPING_KINDS:
        await host.map(domain_sid, list_sid, kind)
        undo.push(lambda kind=kind: host.unmap(domain_sid, list_sid, kind))  # type: ignore[misc]


async def detach(host: SipHost, domain_sid: str, list_sid: str, undo: Undo) -> None:
    for kind in reversed(MAPPING_KINDS):
        await host.unmap(domain_sid, list_sid, kind)
        undo.push(lambda kind=kind: host.map(domain_sid, list_sid, kind))  # type: ignore[misc]


@dataclass
class Undo:
    """What calls to a provider did so far, to take back (newest first) when the change they
    belong to cannot be committed. Taking back is best effort: a step that fails is logged and
    the rest still run; ``run`` says whether all of them worked."""

    steps: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def push(self, step: Callable[[], Awaitable[Any]]) -> None:
        self.steps.append(step)

    async def run(self) -> bool:
        ok = True
        while self.steps:
            step = self.steps.pop()
            try:
                await step()
            except Exception as exc:
                ok = False
                log.warning("could not take back a provider change: %s", exc)
        return ok


# --- provider types ------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    name: str
    supports_sip: bool
    sells_numbers: bool
    required_credentials: tuple[str, ...] = ()
    hosts_sip: bool = False  # its SIP objects exist at the provider (a SipHost), not only here
    # BLF keys subscribe to a colleague's dialog state, which only a registrar that answers
    # dialog SUBSCRIBEs can give; without one, keys to SIP users are plain speed dials.
    supports_blf: bool = False

    def domain_for(self, prefix: str, whippy_suffix: str) -> str:
        if self.name == "twilio":
            return f"{prefix}.sip.twilio.com"
        return f"{prefix}.sip.{whippy_suffix}"

    def registrar_for(self, prefix: str, whippy_suffix: str, edge: str | None) -> str:
        """Where phones register for a domain: on twilio, through the account's edge if any
        (the domain's name at Twilio stays ``<prefix>.sip.twilio.com``)."""
        if self.name == "twilio" and edge:
            return f"{prefix}.sip.{edge}.twilio.com"
        return self.domain_for(prefix, whippy_suffix)

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

    def edge_problem(self, edge: str | None) -> str | None:
        if edge is None:
            return None
        if self.name != "twilio":
            return "only twilio accounts have an edge"
        if edge not in TWILIO_EDGES:
            return "one of " + ", ".join(TWILIO_EDGES)
        return None

    def sid_problem(self, sid: str) -> str | None:
        """Why ``sid`` is not a phone-number SID of this provider, or None."""
        if self.name in ("twilio", "whippy_phone"):
            return None if rules.PHONE_SID.match(sid) else "must be PN followed by 32 hex digits"
        if rules.META_PHONE_SID.fullmatch(sid):
            return None
        return "must be the number's numeric id at Meta (digits 0-9)"


PROVIDERS = {
    "twilio": Provider(
        "twilio",
        supports_sip=True,
        sells_numbers=True,
        required_credentials=("account_sid", "auth_token"),
        hosts_sip=True,
    ),
    # Twilio documents no dialog SUBSCRIBE; whippy_phone's registrar (Kamailio) answers them.
    "whippy_phone": Provider(
        "whippy_phone", supports_sip=True, sells_numbers=True, supports_blf=True
    ),
    "meta": Provider("meta", supports_sip=False, sells_numbers=False),
}


def provider_for(name: str) -> Provider:
    return PROVIDERS[name]
