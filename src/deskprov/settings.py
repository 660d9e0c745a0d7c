"""Settings read from a mapping (the environment in production, a dict in tests), validated
when read: each problem is one line naming its variable (``SettingsError``).

Every field is a ``DESKPROV_<NAME>`` variable; its description is what ``deskprov serve --help``
prints. ``Settings(...)`` takes values as they are (tests); ``Settings.from_env`` reads them.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources import PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

T = TypeVar("T")

HOST_PORT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?$")
RPC_URL = re.compile(r"^http://[A-Za-z0-9.-]+:[0-9]{1,5}/RPC$")
PREFIX = "DESKPROV_"
WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", "*"})
DATABASE_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


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
    """Settings that cannot be used: one line per problem, each naming its variable."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def variable(field: str) -> str:
    return PREFIX + field.upper()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./deskprov.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH, or "
        "postgresql+asyncpg://USER:PASSWORD@HOST/DB for shared installs",
    )
    host: str = Field("127.0.0.1", description="address the phones' listener binds")
    port: int = Field(8080, ge=1, le=65535, description="port of the phones' listener")
    public_url: str = Field(
        "",
        description="base of provisioning URLs, as phones reach this server "
        "(default http[s]://HOST:PORT; required when HOST is a wildcard such as 0.0.0.0)",
    )
    admin_host: str = Field(
        "",
        description="address of a separate listener for the management API, admin pages, "
        "/metrics and the OpenAPI document (default 127.0.0.1 when ADMIN_PORT is set)",
    )
    admin_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="port of that listener; unset: everything on the phones' listener",
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate chain: serve HTTPS (re-read when the file changes)"
    )
    tls_key: Path | None = Field(None, description="PEM private key of TLS_CERT")
    key_file: Path = Field(
        Path("./deskprov.keys"),
        description="signing and encryption keys, created with mode 0600 if absent",
    )
    workers: int = Field(1, ge=1, le=64, description="server processes (serve --workers)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error (debug adds tracebacks)"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one JSON object per line"
    )
    access_log: bool = Field(True, description="on or off: one line per request")
    whippy_sip_suffix: str = Field(
        "whippy.example", description="domain suffix of whippy_phone SIP domains"
    )
    twilio_api_url: str = Field("https://api.twilio.com", description="base of Twilio's REST API")
    twilio_timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        allow_inf_nan=False,
        description="seconds one call to Twilio's API may take, in all",
    )
    kamailio_rpc_url: str = Field(
        "",
        description="Kamailio's JSON-RPC URL, like http://127.0.0.1:5071/RPC (unset: "
        "registrations are reported unreachable)",
    )
    kamailio_pstn_gateway: str = Field(
        "", description="host[:port] of the SIP gateway for calls to phone numbers"
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed, separated by commas or spaces (unset: none)",
    )

    # Not a setting: the management API's largest request body (the contract's 413).
    max_body_bytes: ClassVar[int] = 1024 * 1024

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` takes only what it is given; ``from_env`` reads a mapping."""
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings in ``env`` (default: the process environment), with ``overrides``
        (command-line options, by field name) on top; ``SettingsError`` when unusable."""
        values = _MappingSource(cls, os.environ if env is None else env)()
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(*(p for e in exc.errors() for p in _problems(e))) from None

    @classmethod
    def variables(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) of every setting, for ``--help``."""
        rows = []
        for name, field in cls.model_fields.items():
            default = field.default
            shown = "unset" if default in (None, "", ()) else str(default)
            if isinstance(default, bool):
                shown = "on" if default else "off"
            rows.append((variable(name), shown, field.description or ""))
        return rows

    # --- validation -------------------------------------------------------------------------

    @field_validator("port", "admin_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        if isinstance(value, str) and not (value.isdigit() and 0 < int(value) < 65536):
            raise ValueError("must be a port number (1-65535)")
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("host", "admin_host")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value and not _is_address(value):
            raise ValueError("must be an IP address or host name, without scheme or port")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(
                "is not a database URL (sqlite+aiosqlite:///PATH or "
                "postgresql+asyncpg://USER:PASSWORD@HOST/DB)"
            ) from None
        backend = "postgresql" if url.get_backend_name() == "postgres" else url.get_backend_name()
        wanted = DATABASE_DRIVERS.get(backend)
        if wanted is None:
            raise ValueError(
                "must be SQLite (sqlite+aiosqlite://) or PostgreSQL (postgresql+asyncpg://)"
            )
        if url.drivername != wanted:
            raise ValueError(f"must use the async driver: {wanted}://... (not {url.drivername}://)")
        if backend == "postgresql" and importlib.util.find_spec("asyncpg") is None:
            raise ValueError(
                "names PostgreSQL, but asyncpg is not installed: pip install 'deskprov[postgres]'"
            )
        return value.strip()

    @field_validator("public_url", "twilio_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host name")
        if parts.query or parts.fragment or parts.username is not None:
            raise ValueError("must have no user name, query or fragment")
        if is_wildcard(parts.hostname):
            raise ValueError(
                f"names the wildcard address {parts.hostname}: give the name or address "
                "phones reach this server at"
            )
        try:
            parts.port  # noqa: B018 (raises on a port out of range)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("kamailio_rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        value = value.strip()
        if value and not RPC_URL.match(value):
            raise ValueError("must look like http://127.0.0.1:5071/RPC")
        return value

    @field_validator("kamailio_pstn_gateway")
    @classmethod
    def _gateway(cls, value: str) -> str:
        value = value.strip().removeprefix("sip:")
        if value and not HOST_PORT.match(value):
            raise ValueError("must be host[:port]")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"must list addresses or networks ({proxy!r} is neither)"
                ) from None
        return tuple(value)

    @field_validator("whippy_sip_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        return value.strip().strip(".")

    @model_validator(mode="after")
    def _together(self) -> Settings:
        problems = []
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append(
                f"{variable('tls_cert')} and {variable('tls_key')} go together: set both or neither"
            )
        for name in ("tls_cert", "tls_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                problems.append(f"{variable(name)}: there is no file {path}")
        if self.admin_host and self.admin_port is None:
            problems.append(
                f"{variable('admin_host')} needs {variable('admin_port')} "
                "(the admin listener's port)"
            )
        if self.admin_port == self.port and (
            self.admin_listen_host == self.host
            or is_wildcard(self.host)
            or is_wildcard(self.admin_listen_host)
        ):
            problems.append(
                f"{variable('admin_port')} is the phones' port: give the admin listener another "
                f"port, or unset it to serve everything on {self.host}:{self.port}"
            )
        if not self.public_url and is_wildcard(self.host):
            problems.append(
                f"{variable('public_url')} must be set when {variable('host')} is {self.host} "
                "(phones cannot reach a wildcard address): the URL phones reach this server at, "
                "for example http://prov.example.com:8080"
            )
        if problems:
            raise SettingsError(*problems)
        if not self.public_url:
            scheme = "https" if self.tls_cert else "http"
            host = f"[{self.host}]" if ":" in self.host else self.host
            object.__setattr__(self, "public_url", f"{scheme}://{host}:{self.port}")
        return self

    # --- derived ----------------------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def admin_separate(self) -> bool:
        """Whether the management side has its own listener."""
        return self.admin_port is not None

    @property
    def admin_listen_host(self) -> str:
        return self.admin_host or "127.0.0.1"

    def describe(self) -> str:
        """A one-line summary that is safe to log (no credentials from the database URL)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url).render_as_string(hide_password=True)
        text = f"database={url} public_url={self.public_url} key_file={self.key_file}"
        return text + (" tls=on" if self.tls else "")


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._env, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _problems(error: Any) -> list[str]:
    """One pydantic error as lines naming the variable (and the value, unless it may hold a
    secret)."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SettingsError):  # a check across fields, naming its variables itself
        return cause.problems
    where = str(error["loc"][0]) if error["loc"] else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if where == "database_url" or not isinstance(value, str) else f" (not {value!r})"
    return [f"{variable(where)}: {message[0].lower()}{message[1:]}{shown}"]


def is_wildcard(host: str) -> bool:
    """Whether ``host`` means every address (``DESKPROV_HOST``'s forms of it)."""
    return host in WILDCARDS or host == ""


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in labels
    )
