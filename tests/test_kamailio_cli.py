"""`deskprov kamailio config` as an operator runs it: a real process on a real database, and
the configuration checked by Kamailio itself when it is installed."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from deskprov.cli import main
from deskprov.db.engine import make_engine
from deskprov.registrar import config as kc
from deskprov.registrar.tables import KamailioCaller, KamailioRoute, KamailioSubscriber
from tests import databases
from tests.sip.harness import KAMAILIO
from tests.test_cli import clean_env, database_url, run


async def _rows(url: str, *, clear: bool = False) -> list[int]:
    """How many subscriber, route and caller rows there are (after removing them all)."""
    engine = make_engine(url)
    tables = (KamailioSubscriber, KamailioRoute, KamailioCaller)
    try:
        async with engine.begin() as conn:
            counts = []
            for table in tables:
                if clear:
                    await conn.execute(delete(table))
                counts.append(int(await conn.scalar(select(func.count()).select_from(table)) or 0))
            return counts
    finally:
        await engine.dispose()


def test_config_for_the_configured_database(tmp_path: Path) -> None:
    env = clean_env()
    assert run(["demo"], env, tmp_path).returncode == 0
    url = database_url(env, tmp_path)
    # Rows from before the registrar tables existed (or a changed suffix): config derives them.
    assert asyncio.run(_rows(url, clear=True)) == [0, 0, 0]
    env["DESKPROV_KAMAILIO_RPC_URL"] = "http://127.0.0.1:25071/RPC"
    state = tmp_path / "state" / "kamailio.sqlite"
    done = run(
        ["kamailio", "config", "--listen", "127.0.0.1:25060", "--state-db", str(state)],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # The demo's alice and bob; routes for their usernames, its queue (600) and keys; both
    # have a caller ID.
    subscribers, routes, callers = asyncio.run(_rows(url))
    assert (subscribers, callers) == (2, 2) and routes >= 4
    assert f"{subscribers + routes + callers} row(s) changed" in done.stderr
    cfg = done.stdout
    assert cfg.startswith("#!KAMAILIO")
    assert "listen=udp:127.0.0.1:25060" in cfg and "listen=tcp:127.0.0.1:25071" in cfg
    assert 'version_table="kamailio_version"' in cfg and state.exists()
    assert "Demo-Passw0rd" not in cfg and "Demo-Passw0rd" not in done.stderr
    if databases.ON_POSTGRES:
        _check_read_only_role(cfg, url)
    else:
        path = str((tmp_path / "deskprov.db").resolve())
        assert f'modparam("db_sqlite", "db_set_readonly", "{path}")' in cfg
        assert f'"sqlite://{path}"' in cfg
    if KAMAILIO:
        (tmp_path / "kamailio.cfg").write_text(cfg)
        checked = subprocess.run(
            [KAMAILIO, "-c", "-f", str(tmp_path / "kamailio.cfg")],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr[-3000:]


def _check_read_only_role(cfg: str, url: str) -> None:
    """Kamailio's role reads the registrar tables and nothing else, and writes nothing."""
    found = re.search(r'"postgres://(deskprov_kamailio):([0-9a-f]+)@', cfg)
    assert found, "no read-only role in the configuration"
    as_kamailio = make_url(url).set(username=found[1], password=found[2])

    async def probe() -> None:
        engine = make_engine(as_kamailio.render_as_string(hide_password=False))
        try:
            async with engine.connect() as conn:
                for table, rows in (("kamailio_subscriber", 2), ("kamailio_caller", 2)):
                    count = await conn.scalar(text(f"SELECT count(*) FROM {table}"))
                    assert count == rows
                assert await conn.scalar(text("SELECT count(*) FROM kamailio_route"))
            for statement in (
                "SELECT count(*) FROM sip_users",
                "SELECT count(*) FROM provider_accounts",
                "DELETE FROM kamailio_subscriber",
                "DELETE FROM kamailio_route",
                "UPDATE kamailio_caller SET caller_id = '+1'",
                "INSERT INTO kamailio_version VALUES ('x', 1)",
            ):
                async with engine.connect() as conn:
                    try:
                        await conn.execute(text(statement))
                    except ProgrammingError as exc:
                        assert "permission denied" in str(exc)
                    else:
                        raise AssertionError(f"Kamailio's role may run {statement!r}")
        finally:
            await engine.dispose()

    asyncio.run(probe())


def test_bad_options_are_refused_before_anything_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESKPROV_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
    assert main(["kamailio", "config", "--listen", "sip.example.com:5060"]) == 2
    bad = capsys.readouterr()
    assert bad.out == "" and "--listen must be IPV4-ADDRESS:PORT" in bad.err
    monkeypatch.setenv("DESKPROV_KAMAILIO_RPC_URL", "http://10.0.0.5:5071/RPC")
    assert main(["kamailio", "config"]) == 2
    remote = capsys.readouterr()
    assert remote.out == "" and "loopback" in remote.err
    assert not (tmp_path / "none.db").exists()  # refused before the database was touched


def test_the_gateway_takes_calls_in_only_from_its_address(tmp_path: Path) -> None:
    def rendered(gateway: str) -> str:
        db = kc.KamailioDb("sqlite", f"sqlite://{tmp_path}/d.db", f"{tmp_path}/d.db")
        config = kc.KamailioConfig(
            "127.0.0.1", 5060, "127.0.0.1", 5071, db, tmp_path / "s.db", "whippy.example",
            pstn_gateway=gateway,
        )  # fmt: skip
        return config.render()

    by_address = rendered("192.0.2.7:5080")
    assert '$ru = "sip:" + $var(number) + "@192.0.2.7:5080";' in by_address
    assert 'if ($si != "192.0.2.7" || !is_method("INVITE")' in by_address
    assert 'src_ip != myself && $si != "192.0.2.7"' in by_address  # (not flood-limited)
    # A gateway named by a host name takes calls out; nothing comes in unchallenged.
    by_name = rendered("gw.example.net")
    assert '@gw.example.net";' in by_name and "route(FROM_GATEWAY)" not in by_name
    assert "no PSTN gateway" in rendered("") and "route[FROM_GATEWAY]" not in rendered("")
