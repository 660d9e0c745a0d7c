"""No stale configuration: a change is served on the very next fetch, with two worker processes,
and also when the change is written by another process."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from deskprov.db.models import ProvisioningUrl, SipUser
from deskprov.domain.roles import Actor, Role
from deskprov.schemas import account as acc
from deskprov.services.base import Scope
from deskprov.services.offline import offline_deps
from deskprov.services.registry import Services
from deskprov.settings import Settings
from tests.test_cli import DEMO_LINE, clean_env, database_url, get, run, serving

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:02"
FILE = "805ec0000002.cfg"


async def as_another_process(settings: Settings, model: Any, change: Any) -> None:
    """This test, acting as another process: ``change(services, scope, row)`` on the first row
    of ``model`` that a Yealink phone depends on, straight through the services."""
    async with offline_deps(settings) as deps:
        sv = Services.build(deps)
        async with deps.db.read() as s:
            row = await s.scalar(select(model).where(FIRST[model]))
        assert row is not None
        await change(sv, Scope(Actor(row.org_id, "test", Role.admin), row.account_id), row)
        await sv.phone.hot.close()


FIRST: dict[Any, Any] = {
    SipUser: SipUser.username == "alice",
    ProvisioningUrl: ProvisioningUrl.vendor == "yealink",
}


async def change_password(settings: Settings, password: str) -> None:
    await as_another_process(
        settings,
        SipUser,
        lambda sv, scope, row: sv.sip_users.update(
            scope, row.id, acc.SipUserUpdate(password=password)
        ),
    )


async def revoke_yealink_url(settings: Settings) -> None:
    await as_another_process(
        settings,
        ProvisioningUrl,
        lambda sv, scope, row: sv.provisioning_urls.delete(scope, row.id),
    )


def fetch_many(url: str, times: int = 16) -> list[tuple[int, bytes]]:
    # A new connection each time: SO_REUSEPORT spreads them over both workers.
    return [get(url + FILE, YEALINK_UA) for _ in range(times)]


def test_changes_are_served_at_once_by_two_workers(tmp_path: Path) -> None:
    env = clean_env()
    demo = run(["demo"], env, tmp_path)
    url = dict(DEMO_LINE.findall(demo.stdout))["yealink"]
    settings = Settings(
        database_url=database_url(env, tmp_path), key_file=tmp_path / "deskprov.keys"
    )
    with serving(env, tmp_path, "--workers", "2") as server:
        server.wait_until_ready(workers=2)
        first = fetch_many(url)
        assert all(status == 200 and b"Demo-Passw0rd-Alice" in body for status, body in first)

        asyncio.run(change_password(settings, "Fresh-Passw0rd-1"))
        after = fetch_many(url)
        assert all(b"account.1.password = Fresh-Passw0rd-1" in body for _, body in after)

        asyncio.run(revoke_yealink_url(settings))
        assert {status for status, _ in fetch_many(url)} == {404}
    assert server.returncode == 0, server.logs[-2000:]
    # Both workers served phones (each log line carries its process id).
    assert len(set(re.findall(r"\[(\d+)\] aiohttp.access", server.logs))) == 2
