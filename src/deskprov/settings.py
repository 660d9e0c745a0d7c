"""Settings read from a mapping (the environment in production, a dict in tests)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

HOST_PORT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?$")
RPC_URL = re.compile(r"^http://[A-Za-z0-9.-]+:[0-9]{1,5}/RPC$")


class Secret(Generic[T]):
    """Holds a secret value; ``repr`` and ``str`` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def reveal(self) -> T:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./deskprov.db"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    key_file: Path = Path("./deskprov.keys")
    whippy_sip_suffix: str = "whippy.example"
    twilio_api_url: str = "https://api.twilio.com"
    twilio_timeout: float = 10.0  # seconds one call to Twilio may take, in all
    max_body_bytes: int = field(default=1024 * 1024)
    access_log: bool = True
    # Kamailio (whippy_phone's registrar): its JSON-RPC URL ("" = not configured, registrations
    # are then reported unreachable) and the optional gateway for calls to phone numbers.
    kamailio_rpc_url: str = ""
    kamailio_pstn_gateway: str = ""
    # Addresses or networks of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            value = env.get(f"DESKPROV_{name}", "").strip()
            return value or default

        port_text = get("PORT", "8080")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"DESKPROV_PORT must be a port number, not {port_text!r}")
        host = get("HOST", "127.0.0.1")
        port = int(port_text)
        public_url = get("PUBLIC_URL", "") or f"http://{host}:{port}"
        access_log = get("ACCESS_LOG", "on").lower()
        timeout_text = get("TWILIO_TIMEOUT", "10")
        try:
            twilio_timeout = float(timeout_text)
        except ValueError:
            twilio_timeout = 0.0
        if not 0 < twilio_timeout <= 600:  # (also refuses nan and inf)
            raise SettingsError(
                f"DESKPROV_TWILIO_TIMEOUT must be seconds (above 0, at most 600), "
                f"not {timeout_text!r}"
            )
        if access_log not in ("on", "off"):
            raise SettingsError(f"DESKPROV_ACCESS_LOG must be on or off, not {access_log!r}")
        rpc_url = get("KAMAILIO_RPC_URL", "")
        if rpc_url and not RPC_URL.match(rpc_url):
            raise SettingsError(
                "DESKPROV_KAMAILIO_RPC_URL must look like http://127.0.0.1:5071/RPC, "
                f"not {rpc_url!r}"
            )
        gateway = get("KAMAILIO_PSTN_GATEWAY", "").removeprefix("sip:")
        if gateway and not HOST_PORT.match(gateway):
            raise SettingsError(
                f"DESKPROV_KAMAILIO_PSTN_GATEWAY must be host[:port], not {gateway!r}"
            )
        proxies = tuple(get("TRUSTED_PROXIES", "").replace(",", " ").split())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"DESKPROV_TRUSTED_PROXIES must list addresses or networks, not {proxy!r}"
                ) from None
        return cls(
            database_url=get("DATABASE_URL", cls.database_url),
            host=host,
            port=port,
            public_url=public_url.rstrip("/"),
            key_file=Path(get("KEY_FILE", str(cls.key_file))),
            whippy_sip_suffix=get("WHIPPY_SIP_SUFFIX", cls.whippy_sip_suffix).strip("."),
            twilio_api_url=get("TWILIO_API_URL", cls.twilio_api_url).rstrip("/"),
            twilio_timeout=twilio_timeout,
            access_log=access_log == "on",
            kamailio_rpc_url=rpc_url,
            kamailio_pstn_gateway=gateway,
            trusted_proxies=proxies,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def describe(self) -> str:
        """A one-line summary that is safe to log (no credentials from the database URL)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url).render_as_string(hide_password=True)
        return f"database={url} listen={self.host}:{self.port} public_url={self.public_url}"
