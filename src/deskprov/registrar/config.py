"""``deskprov kamailio config``: the kamailio.cfg for this deployment, and what it needs.

The configuration is a jinja2 template (``kamailio.cfg.j2``); every value put into it is checked
here first, so nothing in the settings can inject configuration text.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from deskprov.registrar.tables import CALLER, READ_BY_KAMAILIO, ROUTE, SUBSCRIBER, VERSION
from deskprov.settings import HOST_PORT, Settings

DEFAULT_LISTEN = "0.0.0.0:5060"
DEFAULT_RPC = ("127.0.0.1", 5071)
DEFAULT_STATE_DB = Path("/var/lib/kamailio/deskprov-state.sqlite")
DEFAULT_ROLE = "deskprov_kamailio"
KAMAILIO_USER = "kamailio"  # the Debian package's service user

SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]+$")
SAFE_SUFFIX = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """The configuration cannot be made from these settings or options."""


@dataclass(frozen=True)
class KamailioDb:
    """How Kamailio reaches deskprov's database: its URL, and for SQLite the file's path."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    sqlite_path: str | None = None


@dataclass(frozen=True)
class KamailioConfig:
    sip_host: str
    sip_port: int
    rpc_host: str
    rpc_port: int
    db: KamailioDb
    state_db: Path
    suffix: str
    pstn_gateway: str = ""
    children: int = 4

    def render(self) -> str:
        if not SAFE_SUFFIX.match(self.suffix):
            raise ConfigError(f"the SIP suffix {self.suffix!r} is not a domain name")
        if not SAFE_PATH.match(str(self.state_db)):
            raise ConfigError(f"the state file {self.state_db} needs a plain absolute path")
        if self.pstn_gateway and not HOST_PORT.match(self.pstn_gateway):
            raise ConfigError(f"the PSTN gateway {self.pstn_gateway!r} is not host[:port]")
        if re.search(r'["\s]', self.db.url):
            raise ConfigError("Kamailio's database URL may not hold quotes or white space")
        regex = r"^[a-z0-9-]+[.]sip[.]" + self.suffix.replace(".", "[.]") + "$"
        local = "127.0.0.1" if self.sip_host == "0.0.0.0" else self.sip_host
        return _template().render(
            cfg=self,
            domain_regex=regex,
            local_sip_host=local,
            gateway_address=self.gateway_address,
            subscriber_table=SUBSCRIBER,
            version_table=VERSION,
            route_table=ROUTE,
            caller_table=CALLER,
        )

    @property
    def gateway_address(self) -> str | None:
        """The PSTN gateway's IPv4 address, which its calls in come from (a gateway named by
        a host name can take calls out only: Kamailio matches the source address)."""
        host = self.pstn_gateway.rsplit(":", 1)[0] if self.pstn_gateway else ""
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return None


def for_settings(
    settings: Settings, *, listen: str, db: KamailioDb, state_db: Path, children: int = 4
) -> KamailioConfig:
    """The configuration for this deployment: SIP on ``listen``, JSON-RPC where
    DESKPROV_KAMAILIO_RPC_URL says (loopback), calls to numbers through
    DESKPROV_KAMAILIO_PSTN_GATEWAY when set."""
    sip_host, sip_port = parse_host_port(listen, "--listen")
    rpc_host, rpc_port = rpc_address(settings.kamailio_rpc_url)
    return KamailioConfig(
        sip_host=sip_host,
        sip_port=sip_port,
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        db=db,
        state_db=state_db,
        suffix=settings.whippy_sip_suffix,
        pstn_gateway=settings.kamailio_pstn_gateway,
        children=children,
    )


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("kamailio.cfg.j2")


def parse_host_port(value: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` with an IPv4 address (Kamailio is told not to use DNS)."""
    host, _, port = value.rpartition(":")
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise ConfigError(f"{what} must be IPV4-ADDRESS:PORT, not {value!r}") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what} must end with a port number, not {value!r}")
    return str(address), int(port)


def rpc_address(rpc_url: str) -> tuple[str, int]:
    """Where Kamailio's JSON-RPC listens: the host and port of DESKPROV_KAMAILIO_RPC_URL, which
    must be on loopback (the endpoint answers only there), else 127.0.0.1:5071."""
    if not rpc_url:
        return DEFAULT_RPC
    parts = urlsplit(rpc_url)
    host, port = parse_host_port(f"{parts.hostname}:{parts.port}", "DESKPROV_KAMAILIO_RPC_URL")
    if not ipaddress.IPv4Address(host).is_loopback:
        raise ConfigError("DESKPROV_KAMAILIO_RPC_URL must name a loopback address (127.x.x.x)")
    return host, port


def sqlite_db(database_url: str) -> KamailioDb:
    """deskprov's SQLite file, which the configuration opens read only."""
    database = make_url(database_url).database
    if not database:
        raise ConfigError("the SQLite database URL names no file")
    path = str(Path(database).resolve())
    if not SAFE_PATH.match(path):
        raise ConfigError(f"Kamailio cannot be given the path {path!r} (use plain characters)")
    return KamailioDb("sqlite", f"sqlite://{path}", path)


def postgres_db(database_url: str, role: str, password: str) -> KamailioDb:
    """deskprov's PostgreSQL database, reached as ``role`` (which may only read)."""
    url = make_url(database_url)
    host = url.host or "127.0.0.1"
    if not re.match(r"^[A-Za-z0-9.-]+$", host) or not re.match(r"^\w+$", url.database or ""):
        raise ConfigError("the PostgreSQL URL needs a plain host name and database name")
    return KamailioDb(
        "postgresql", f"postgres://{role}:{password}@{host}:{url.port or 5432}/{url.database}"
    )


async def grant_read_only_role(engine: AsyncEngine, role: str) -> str:
    """A PostgreSQL login role that may read the registrar tables and nothing else; a new
    password each time (returned). deskprov's database user needs CREATEROLE for this."""
    if not ROLE_NAME.match(role):
        raise ConfigError(f"{role!r} is not a plain role name")
    password = secrets.token_hex(24)  # hex: safe inside SQL and inside Kamailio's db_url
    try:
        await _grant(engine, role, password)
    except DBAPIError as exc:
        raise ConfigError(
            f"could not set up the read-only role {role} ({exc.orig}); give deskprov's database "
            "user CREATEROLE, or make a role that may only SELECT the kamailio_* tables and pass "
            "its URL with --db-url"
        ) from exc
    return password


async def _grant(engine: AsyncEngine, role: str, password: str) -> None:
    async with engine.begin() as conn:
        exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        verb = "ALTER" if exists else "CREATE"
        await conn.execute(
            text(
                f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD '{password}'"
            )
        )
        database = await conn.scalar(text("SELECT current_database()"))
        schema = await conn.scalar(text("SELECT current_schema()"))
        await conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
        await conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        tables = ", ".join(READ_BY_KAMAILIO)
        await conn.execute(text(f"GRANT SELECT ON {tables} TO {role}"))


# pua's table, as Kamailio 5.6 creates it for SQLite (presence-create.sql), and the version
# table under the name the configuration gives it.
STATE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {VERSION} (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL UNIQUE,
    table_version INTEGER DEFAULT 0 NOT NULL
);
INSERT OR IGNORE INTO {VERSION} (table_name, table_version) VALUES ('pua', 7);
CREATE TABLE IF NOT EXISTS pua (
    id INTEGER PRIMARY KEY NOT NULL,
    pres_uri VARCHAR(255) NOT NULL,
    pres_id VARCHAR(255) NOT NULL,
    event INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    desired_expires INTEGER NOT NULL,
    flag INTEGER NOT NULL,
    etag VARCHAR(128) NOT NULL,
    tuple_id VARCHAR(64),
    watcher_uri VARCHAR(255) NOT NULL,
    call_id VARCHAR(255) NOT NULL,
    to_tag VARCHAR(128) NOT NULL,
    from_tag VARCHAR(128) NOT NULL,
    cseq INTEGER NOT NULL,
    record_route TEXT,
    contact VARCHAR(255) NOT NULL,
    remote_contact VARCHAR(255) NOT NULL,
    version INTEGER NOT NULL,
    extra_headers TEXT NOT NULL,
    CONSTRAINT pua_pua_idx UNIQUE (etag, tuple_id, call_id, from_tag)
);
CREATE INDEX IF NOT EXISTS pua_expires_idx ON pua (expires);
CREATE INDEX IF NOT EXISTS pua_dialog1_idx ON pua (pres_id, pres_uri);
CREATE INDEX IF NOT EXISTS pua_dialog2_idx ON pua (call_id, from_tag);
CREATE INDEX IF NOT EXISTS pua_record_idx ON pua (pres_id);
"""


def ensure_state_db(path: Path) -> None:
    """Kamailio's own small state file (what pua published), created if missing; given to the
    ``kamailio`` user when run as root, since Kamailio writes it (and its journal beside it)."""
    made = [path] if not path.exists() else []
    if not path.parent.exists():
        made.append(path.parent)
        path.parent.mkdir(parents=True, mode=0o750)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(STATE_SCHEMA)
    finally:
        conn.close()
    if made and os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(KAMAILIO_USER)
        except KeyError:
            return
        for item in made:  # only what was made here: never an existing folder such as /etc
            os.chown(item, owner.pw_uid, owner.pw_gid)
