"""Helpers for the attacks of issue 16: raw sockets, a server keyed from a real key file, admin
page sign-in without a browser."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp.test_utils import TestClient

from deskprov.app import create_app
from deskprov.appkeys import SERVICES
from deskprov.services.organisation import create_organisation
from deskprov.settings import Settings
from deskprov.web.accesslog import RedactingAccessLogger
from deskprov.web.limits import HTTP_LIMITS
from deskprov.web.server import ConnectionLimits
from tests.conftest import Api, Clock, GuardedTestServer

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:d5:7d:72"
YEALINK_MAC = "805ec0d57d72"


async def start(
    settings: Settings,
    aiohttp_client: Any,
    *,
    clock: Clock | None = None,
    limits: ConnectionLimits | None = None,
    **app_args: Any,
) -> Api:
    """A server as ``deskprov serve`` runs it, keyed from ``settings.key_file`` unless
    ``app_args`` gives a keyring, with an organisation and its admin key."""
    app = create_app(settings, clock=clock or Clock(), **app_args)
    server = GuardedTestServer(app, limits=limits)
    await server.start_server(access_log_class=RedactingAccessLogger, **HTTP_LIMITS)
    client: TestClient = await aiohttp_client(server)
    created = await create_organisation(client.app[SERVICES].deps, "Acme")
    return Api(client, created.api_key, created.organisation_id)


def token_of(url: dict[str, Any]) -> str:
    return str(url["url"]).split("/p/", 1)[1].rstrip("/")


async def send(server: Any, raw: bytes, *, timeout: float = 10) -> tuple[int, bytes, bytes]:
    """``raw`` on a new connection: the status, head and body of the answer (0 when the
    connection was closed without one)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(timeout):
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return 0, b"", b""
            length = re.search(rb"(?i)\r\nContent-Length: *(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1]), head, body


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: deskprov.test", "Connection: close", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def sign_in(api: Api, key: str | None = None) -> str:
    """The admin session cookie an API key gets at the sign-in form."""
    resp = await api.client.post(
        "/admin/sign-in", data={"api_key": key or api.key}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    return resp.cookies["deskprov_admin"].value
