"""The PostgreSQL phone path (db/pghot.py) keeps URL states in each process and never serves
them stale: a change through one server is served on the very next fetch through another, a
bind whose notification never comes is still honoured, and a lost notification connection
drops what was kept.

PostgreSQL only: these run on the suite's PostgreSQL run (DESKPROV_TEST_POSTGRES_URL)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from deskprov.appkeys import SERVICES
from deskprov.db.pghot import LISTENING, PgHotStore
from tests import databases, phone_parsers
from tests.api.test_phone import YEALINK_MAC, YEALINK_UA, expect_refused, fetch
from tests.conftest import Api
from tests.factories import make_url, phone_setup
from tests.test_cli import free_port, run
from tests.test_two_servers import two_servers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not databases.ON_POSTGRES, reason="needs DESKPROV_TEST_POSTGRES_URL"),
]


def test_a_retired_signing_key_is_refused_by_every_server_on_the_next_fetch(
    tmp_path: Path,
) -> None:
    """(The other changes through one server, served by the other on the next fetch: in
    test_two_servers.py, which runs on both databases.)"""
    with two_servers(tmp_path) as (a, b, urls):
        mac = "805ec0000002"
        assert b.fetch(urls["yealink"], mac)[0] == 200  # B keeps the URL's state and its file
        listed = run(["keys", "list"], a.env, tmp_path).stdout
        old = re.search(r"signing: (s[0-9a-f]{4})", listed).group(1)  # type: ignore[union-attr]
        assert run(["keys", "rotate"], a.env, tmp_path).returncode == 0
        assert b.fetch(urls["yealink"], mac)[0] == 200  # old keys still verify
        # Retired on this host (both servers read its key file): no second's grace.
        assert run(["keys", "retire", old], a.env, tmp_path).returncode == 0
        assert b.fetch(urls["yealink"], mac)[0] == 404
        assert a.fetch(urls["yealink"], mac)[0] == 404


async def sql(client: TestClient, statement: str) -> None:
    async with client.app[SERVICES].deps.db.engine.begin() as conn:
        await conn.execute(text(statement))


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time")


async def password_of(client: TestClient, url: dict[str, Any]) -> str:
    resp = await fetch(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    assert resp.status == 200
    return phone_parsers.yealink_cfg(await resp.read())["account.1.password"]


async def kept_url(
    api: Api, client: TestClient
) -> tuple[dict[str, Any], dict[str, Any], str, PgHotStore]:
    """A phone set up and its URL fetched (so kept); the path of its SIP user; the store."""
    s = await phone_setup(api)
    url = s["urls"]["yealink"]
    hot = client.app[SERVICES].phone.hot
    assert isinstance(hot, PgHotStore)
    assert await password_of(client, url) == "Sup3rSecretPass"
    return s, url, f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}", hot


async def test_the_next_fetch_sees_a_change_and_a_silent_bind_is_still_honoured(
    api: Api, client: TestClient
) -> None:
    s, url, path, hot = await kept_url(api, client)
    assert hot.kept == 1
    # Nothing tells this process of the change: the check made for the next fetch does.
    await api.patch(path, {"password": "Next-Fetch-Passw0rd"})
    assert hot.kept == 1
    assert await password_of(client, url) == "Next-Fetch-Passw0rd"

    # A URL kept unbound, then bound by another process whose notification never comes: the
    # bind it tries finds it bound, so another phone is still refused and the winner served.
    unbound = await make_url(api, s["pa"], s["user"]["id"], "yealink")
    assert (await fetch(client, unbound, "y000000000066.cfg", "Yealink SIP-T46S")).status == 200
    assert hot.kept_state(api.org_id, unbound["id"]) is not None
    await sql(
        client, "ALTER TABLE provisioning_urls DISABLE TRIGGER provisioning_urls_notify_binding"
    )
    await sql(
        client, f"UPDATE provisioning_urls SET mac = '805ec0000077' WHERE id = '{unbound['id']}'"
    )
    await expect_refused(client, unbound, f"{YEALINK_MAC}.cfg", YEALINK_UA)
    winner = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:77"
    assert (await fetch(client, unbound, "805ec0000077.cfg", winner)).status == 200

    await api.delete(f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}")
    await expect_refused(client, url, f"{YEALINK_MAC}.cfg", YEALINK_UA)


async def test_a_lost_notification_connection_drops_what_was_kept_and_recovers(
    api: Api, client: TestClient
) -> None:
    s, url, path, hot = await kept_url(api, client)
    assert (hot.kept, hot.listening) == (1, 1)

    await sql(
        client,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = current_database() AND application_name = '{LISTENING}'",
    )
    await until(lambda: hot.kept == 0)  # noticed at once, without a fetch: nothing trusted

    # The next fetch serves what changed meanwhile...
    await api.patch(path, {"password": "While-Away-Passw0rd"})
    assert await password_of(client, url) == "While-Away-Passw0rd"
    assert (hot.kept, hot.listening) == (1, 2)  # ...on a new connection,
    # which is told of binds again: one made elsewhere reaches what is kept, before any fetch.
    unbound = await make_url(api, s["pa"], s["user"]["id"], "yealink")
    assert (await fetch(client, unbound, "y000000000066.cfg", "Yealink SIP-T46S")).status == 200
    kept = hot.kept_state(api.org_id, unbound["id"])
    assert kept is not None and kept.mac is None
    await sql(
        client, f"UPDATE provisioning_urls SET mac = '805ec0000077' WHERE id = '{unbound['id']}'"
    )
    await until(
        lambda: getattr(hot.kept_state(api.org_id, unbound["id"]), "mac", None) == "805ec0000077"
    )


def test_commands_and_servers_refuse_a_database_not_migrated(tmp_path: Path) -> None:
    """On PostgreSQL only ``deskprov db upgrade`` migrates: every other command, and a server,
    says so on an empty database (and writes nothing: no key file)."""
    name = f"deskprov_test_{uuid.uuid4().hex[:12]}"
    databases.run_sync(databases._admin(f"CREATE DATABASE {name}"))
    url = databases._named(name)
    try:
        env = {
            **os.environ,
            "DESKPROV_DATABASE_URL": url,
            "DESKPROV_KEY_FILE": str(tmp_path / "keys"),
            "DESKPROV_PORT": str(free_port()),
        }
        for args in (["org", "create", "Acme"], ["keys", "list"], ["serve"]):
            done = run(args, env, tmp_path)
            assert done.returncode != 0, args
            assert "is empty; this version needs revision" in done.stderr, (args, done.stderr)
            assert "deskprov db upgrade" in done.stderr
        assert not (tmp_path / "keys").exists()
    finally:
        databases.drop(url)
