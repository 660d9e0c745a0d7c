"""What vendor templates see: a frozen view of one phone's configuration.

Built from the database by the provisioning service, laid out for one model by the vendor
profile, and rendered by a template. No ORM objects and no secrets beyond the line passwords.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KeyKind = Literal["blf", "speed_dial", "blind_transfer"]


@dataclass(frozen=True)
class Line:
    """One SIP registration (account) on the phone."""

    index: int  # 1-based
    username: str
    password: str
    domain: str
    display_name: str
    label: str


@dataclass(frozen=True)
class MemoryKey:
    """A SIP extension as a key, before it is given a place on a model's keys."""

    extension: str
    label: str
    kind: KeyKind
    dial: str  # what the key dials: the target SIP user's username for BLF, else the extension
    source_id: str  # the sip_extension id, for reports


@dataclass(frozen=True)
class PlacedKey:
    key: MemoryKey
    number: int  # 1-based position on the phone's own keys, after the line keys
    module: int | None = None  # expansion module (1-based) when the key is on one
    module_key: int | None = None  # 1-based key on that module


@dataclass(frozen=True)
class PhoneData:
    """Everything a configuration is made from, independent of vendor and model."""

    lines: tuple[Line, ...]
    keys: tuple[MemoryKey, ...]
    data_version: int


@dataclass(frozen=True)
class PhoneConfig:
    """One phone's configuration laid out for its model: what a template renders."""

    vendor: str
    model: str
    mac: str | None
    lines: tuple[Line, ...]
    keys: tuple[PlacedKey, ...]  # on the phone itself
    expansion_keys: tuple[PlacedKey, ...]  # on expansion modules
    dropped: tuple[MemoryKey, ...] = field(default=())  # no room on this model
    version: str = ""  # a version string that moves when the data changes (Fanvil)
