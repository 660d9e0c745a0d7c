"""deskprov killed between a call to Twilio and its commit: `deskprov sync` reports what that
left (a domain made at Twilio and never recorded here, a password changed at Twilio and not
here), refuses to repair while the changes may still be running, and two minutes on the repair
makes Twilio match deskprov again. A real `deskprov serve` process, killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from deskprov.app import create_app
from deskprov.settings import Settings
from tests.api.test_twilio import assert_same
from tests.conftest import TWILIO_CREDENTIALS, Api, Clock
from tests.fakes.twilio import FakeTwilio
from tests.test_cli import free_port


async def deskprov(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deskprov",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_crash_between_twilio_and_our_commit_is_found_and_repaired(
    tmp_path: Path,
    settings: Settings,
    clock: Clock,
    aiohttp_client: Any,
    fake_twilio: tuple[FakeTwilio, TestServer],
) -> None:
    fake, _ = fake_twilio
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    env |= {
        "DESKPROV_PORT": str(free_port()),
        "DESKPROV_DATABASE_URL": settings.database_url,
        "DESKPROV_KEY_FILE": str(settings.key_file),
        "DESKPROV_PUBLIC_URL": settings.public_url,
        "DESKPROV_TWILIO_API_URL": settings.twilio_api_url,
        "DESKPROV_ACCESS_LOG": "off",
    }
    code, out, err = await deskprov(env, tmp_path, "org", "create", "Acme", "--json")
    assert code == 0, err
    created = json.loads(out)
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deskprov",
        "serve",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{env['DESKPROV_PORT']}"
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    try:
        async with aiohttp.ClientSession(base, headers=headers) as http:
            for _ in range(200):
                try:
                    async with http.get("/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)

            async def post(path: str, body: Any, method: str = "POST") -> Any:
                async with http.request(method, "/api/v1" + path, json=body) as resp:
                    assert resp.status in (200, 201), await resp.text()
                    return await resp.json()

            pa = (
                await post(
                    "/provider-accounts",
                    {"name": "T", "provider": "twilio", "credentials": TWILIO_CREDENTIALS},
                )
            )["id"]
            acc = f"/provider-accounts/{pa}"
            domain = await post(f"{acc}/sip-domains", {"name": "Office", "prefix": "office"})
            cred_list = await post(f"{acc}/credential-lists", {"name": "Desks"})
            await post(
                f"{acc}/credential-attachments",
                {"sip_domain_id": domain["id"], "credential_list_id": cred_list["id"]},
            )
            alice = await post(
                f"{acc}/sip-users",
                {
                    "username": "alice",
                    "password": "Old-Passw0rd-1",
                    "credential_list_id": cred_list["id"],
                },
            )
            # Both reach Twilio, which does the work; deskprov dies before it hears back.
            held = [
                fake.hold("POST", "/SIP/Domains.json"),
                fake.hold("POST", f"/Credentials/{alice['provider_sid']}.json"),
            ]
            calls = [
                asyncio.create_task(post(f"{acc}/sip-domains", {"name": "New", "prefix": "new"})),
                asyncio.create_task(
                    post(f"{acc}/sip-users/{alice['id']}", {"password": "New-Passw0rd-2"}, "PATCH")
                ),
            ]
            await asyncio.wait_for(asyncio.gather(*(h.reached.wait() for h in held)), 10)
            server.kill()
            await server.wait()
            for h in held:
                h.release()
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(o, aiohttp.ClientError) for o in outcomes), outcomes
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()

    # The command line reports both, and will not repair while they may still be running.
    code, out, err = await deskprov(env, tmp_path, "sync", pa)
    assert code == 3, err
    report = json.loads(out)
    assert [i["detail"].split(" (")[0] for i in report["unknown_at_provider"]] == [
        "new.sip.twilio.com"
    ]
    assert sorted(i["detail"].split(" started")[0] for i in report["different"]) == [
        "in progress: sip_domain.create",
        "in progress: sip_user.update",
    ]
    code, out, err = await deskprov(env, tmp_path, "sync", pa, "--repair")
    assert code == 1 and "in progress" in err

    # Two minutes on (the same database and key file, a server of our own with a clock to move):
    # the repair deletes the stray domain and sets alice's password at Twilio back to ours.
    clock.advance(180)
    client = await aiohttp_client(create_app(settings, clock=clock))
    api = Api(client, created["api_key"], created["organisation_id"])
    repaired = await api.post(f"{acc}/provider-sync", {"repair": True}, status=200)
    assert repaired["missing_at_provider"] == repaired["unknown_at_provider"] == []
    assert repaired["different"] == []
    assert {i["detail"] for i in repaired["done"]} == {
        "deleted at the provider",
        "password set again",
    }
    ours = await assert_same(api, pa, fake)
    (office,) = ours["domains"].values()
    assert office[1] == "Office"
    revealed = await api.post(f"{acc}/sip-users/{alice['id']}/reveal-password", status=200)
    assert revealed["password"] == "Old-Passw0rd-1"
    assert (await api.get(f"{acc}/provider-sync"))["different"] == []
