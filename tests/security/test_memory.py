"""Finding 5: unauthenticated connections could hold ~1 MB each: 300 sockets sending 60 headers
of 8 KB, or 300 PUTs of 1 MiB to ``/p/<bad token>/...`` (the body was read before the token was
checked), took a server from ~110 MB to ~400 MB, and it stayed there. Against a real ``deskprov
serve``: a request head is capped (16 KiB), an upload's token is checked before its body is read
(and an unread body is not drained), and memory goes back to the system after the burst."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from deskprov.security.keyring import Keyring
from deskprov.settings import Settings
from deskprov.web.server import ConnectionLimits, GuardedServer
from tests.conftest import Api
from tests.factories import make_url, sip_setup
from tests.security.conftest import YEALINK_MAC, YEALINK_UA, request, send, start, token_of
from tests.test_cli import clean_env, serving

BURST = 300


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def header_flood(port: int) -> list[asyncio.StreamWriter]:
    """Each socket: a request line, then 60 headers of 8 KB, the head never finished."""
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n"

    async def one() -> asyncio.StreamWriter | None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: deskprov.test\r\n")
            for _ in range(60):
                writer.write(line)
                await asyncio.wait_for(writer.drain(), 5)
            return writer
        except (OSError, TimeoutError):
            return None  # (cut off by the server)

    return [w for w in await asyncio.gather(*(one() for _ in range(BURST))) if w]


async def upload_flood(port: int) -> list[int]:
    """Each socket: a 1 MiB PUT to a phone file with a forged token; the status it got."""
    head = (
        f"PUT /p/{'A' * 54}/0004f2000001-app.log HTTP/1.1\r\nHost: deskprov.test\r\n"
        f"Content-Length: {1024 * 1024}\r\n\r\n"
    ).encode()
    chunk = b"x" * 65536

    async def one() -> int:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return 0

        async def status() -> int:  # (read while sending, as HTTP clients do)
            line = await reader.readline()
            return int(line.split()[1]) if line else 0

        answer = asyncio.create_task(status())
        try:
            writer.write(head)
            for _ in range(16):
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 5)
        except (OSError, TimeoutError):
            pass  # (the server stopped reading: it had answered)
        try:
            return await asyncio.wait_for(answer, 5)
        except (OSError, TimeoutError, IndexError, ValueError):
            return 0
        finally:
            writer.close()

    return list(await asyncio.gather(*(one() for _ in range(BURST))))


async def attack(port: int, pid: int) -> dict[str, float]:
    figures = {"before": rss_mb(pid)}
    peak = [figures["before"]]
    sampling = True

    async def sample() -> None:
        while sampling:
            peak.append(rss_mb(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    held, statuses = await asyncio.gather(header_flood(port), upload_flood(port))
    await asyncio.sleep(0.5)
    figures["peak"] = max(peak)
    for writer in held:
        writer.close()
    assert statuses.count(0) < BURST // 2, statuses  # (most were answered: 404 or 429)
    assert set(statuses) <= {0, 404, 429}
    started = time.monotonic()
    while time.monotonic() - started < 5 and rss_mb(pid) > figures["before"] + 10:
        await asyncio.sleep(0.25)
    sampling = False
    await sampler
    figures["after"] = rss_mb(pid)
    return figures


def test_unauthenticated_bursts_hold_little_memory_and_give_it_back(tmp_path: Path) -> None:
    env = clean_env()
    env["DESKPROV_ACCESS_LOG"] = "off"
    with serving(env, tmp_path) as served:
        port = int(env["DESKPROV_PORT"])
        figures = asyncio.run(attack(port, served.pid))
    print({k: round(v, 1) for k, v in figures.items()})
    before = figures["before"]
    assert figures["peak"] - before < 100  # (before: +300 MB)
    assert figures["after"] - before < 10  # (before: it stayed)


async def test_connections_nobody_authenticated_are_capped_oldest_idle_first(
    settings: Settings, aiohttp_client: Any
) -> None:
    api = await start(
        settings,
        aiohttp_client,
        keyring=Keyring.generate(),
        limits=ConnectionLimits(untrusted=20),
    )
    s = await sip_setup(api)
    url = await make_url(api, s["pa"], s["user"]["id"], "yealink")
    server = api.client.server
    idle = [await asyncio.open_connection(server.host, server.port) for _ in range(40)]
    await asyncio.sleep(0.2)
    closed = [await reader.read(1) == b"" for reader, _ in idle[:20]]
    assert all(closed)  # the 20 oldest were closed to make room...
    guard = server.runner.server
    assert isinstance(guard, GuardedServer) and len(guard.untrusted) <= 20
    # ...and a phone on a new connection is served; its connection then no longer counts.
    status, _, body = await send(
        server,
        request("GET", f"/p/{token_of(url)}/{YEALINK_MAC}.cfg", f"User-Agent: {YEALINK_UA}"),
    )
    assert status == 200 and b"account.1.password" in body
    for _, writer in idle:
        writer.close()


async def test_a_request_head_over_16_kib_is_cut_off(api: Api) -> None:
    server = api.client.server
    pads = [f"X-Pad-{i}: " + "b" * 7000 for i in range(3)]  # (each header within its own limit)
    assert (await send(server, request("GET", "/healthz", *pads)))[0] == 0  # cut, no answer
    assert (await send(server, request("GET", "/healthz", *pads[:2])))[0] == 200  # 14 KB: fine
