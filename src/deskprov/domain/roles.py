"""API-key roles and what each may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from deskprov.errors import Forbidden

RoleName = Literal["admin", "installer", "viewer"]


class Role(IntEnum):
    """Ordered so that a stronger role includes every weaker one."""

    viewer = 1
    installer = 2
    admin = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        return cls[name]


@dataclass(frozen=True)
class Actor:
    """Who is calling: an API key of one organisation, with its role."""

    org_id: str
    key_id: str
    role: Role

    @property
    def label(self) -> str:
        """How audit events name this actor."""
        return self.key_id

    def require(self, role: Role) -> None:
        if self.role < role:
            raise Forbidden(f"this needs the {role.name} role; the API key has {self.role.name}")
