"""What vendor templates see: a frozen view of one phone's configuration.

Built from the database by the provisioning service, laid out for one model by the vendor
profile, and rendered by a template. No ORM objects and no secrets beyond the line passwords.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from deskprov.domain.timezones import ZoneRules

KeyKind = Literal["blf", "speed_dial", "blind_transfer"]
Transport = Literal["udp", "tcp", "tls"]
Srtp = Literal["off", "optional", "required"]


@dataclass(frozen=True)
class Line:
    """One SIP registration (account) on the phone."""

    slot: ClassVar[str] = "line"  # what it is in ``PhoneConfig.slots``

    index: int  # 1-based
    username: str
    password: str
    domain: str
    display_name: str
    label: str


@dataclass(frozen=True)
class MemoryKey:
    """A SIP extension as a key, before it is given a place on a model's keys.

    ``kind`` says what the phone does with it: ``blf`` watches ``dial`` (a SIP username) and
    calls it; ``speed_dial`` calls ``dial`` without watching anything; ``blind_transfer``
    transfers the current call to ``dial`` (the extension).
    """

    extension: str
    label: str
    kind: KeyKind
    dial: str  # what the key dials: the target SIP user's username for BLF, else the extension
    source_id: str  # the sip_extension id, for reports
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = (self.extension, self.label, self.kind, self.dial, self.source_id)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:  # (see PlacedKey)
        return self._hash


@dataclass(frozen=True)
class PlacedKey:
    slot: ClassVar[str] = "key"  # what it is in ``PhoneConfig.slots``

    key: MemoryKey
    number: int  # 1-based position on the phone's own keys, after the line keys
    module: int | None = None  # expansion module (1-based) when the key is on one
    module_key: int | None = None  # 1-based key on that module
    # Hashed once: a phone's keys are looked up by value among the remembered layouts and
    # fragments for every file of a boot storm (a dataclass hashes its fields at every call).
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = (self.key, self.number, self.module, self.module_key)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True)
class PhoneData:
    """Everything a configuration is made from, independent of vendor and model."""

    lines: tuple[Line, ...]
    keys: tuple[MemoryKey, ...]
    data_version: int


@dataclass(frozen=True)
class PhoneConfig:
    """One phone's configuration laid out for its model: what a template renders.

    Templates state every slot the model has (an unused account disabled, an unused key set to
    nothing), because Yealink and Fanvil apply a file as a change set: what a file leaves out
    stays on the phone. ``accounts`` has one entry per account the model has (None: unused);
    ``slots`` one per key, the phone's own then its expansion modules' (a line's own key, a
    memory key, or None: an empty key); ``modules`` the modules' slots, module by module.
    """

    vendor: str
    model: str
    mac: str | None
    lines: tuple[Line, ...]
    keys: tuple[PlacedKey, ...]  # on the phone itself
    expansion_keys: tuple[PlacedKey, ...]  # on expansion modules
    dropped: tuple[MemoryKey, ...] = field(default=())  # no room on this model
    version: str = ""  # a version string that moves when the data changes (Fanvil)
    accounts: tuple[Line | None, ...] = ()
    slots: tuple[Line | PlacedKey | None, ...] = ()
    modules: tuple[tuple[PlacedKey | None, ...], ...] = ()  # ``slots`` past the phone's own


@dataclass(frozen=True)
class PhoneSettings:
    """What a provider account's phones are set to besides lines and keys (defaults when the
    account has no settings), with the time zone already turned into rules. Hashable (the
    parts of files made from settings are remembered by them)."""

    zone: ZoneRules
    ntp_servers: tuple[str, ...]
    language: str | None  # BCP 47
    voicemail_number: str | None
    transport: Transport
    srtp: Srtp
    poll_minutes: int
    nat_keepalive_seconds: int  # 0: off
    firmware: Mapping[str, str] = field(hash=False)  # model name -> firmware URL
    admin_password: str

    def firmware_for(self, model: str) -> str:
        """The firmware URL for ``model`` ("" when none is set: the phone keeps its own)."""
        return self.firmware.get(model, "")
