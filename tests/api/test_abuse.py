"""Hostile clients: path tricks on /p/, oversized and slow requests. Sent as raw bytes on a
socket, so that no client library tidies the request first."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from deskprov.app import create_app
from deskprov.security.keyring import Keyring
from deskprov.web import request as web_request
from deskprov.web.accesslog import RedactingAccessLogger
from deskprov.web.limits import HTTP_LIMITS
from tests.conftest import Api
from tests.factories import phone_setup
from tests.security.conftest import send as send_raw

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:d5:7d:72"

# Python-level file opens seen while ``_watching`` is set (audit hooks cannot be removed).
_opened: list[str] = []
_watching: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event == "open":
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


async def send(server: Any, raw: bytes, *, timeout: float = 10) -> tuple[int, bytes]:
    """Send ``raw`` on a new connection; the status and body of the answer (0 if the server
    closed the connection without one)."""
    status, _, body = await send_raw(server, raw, timeout=timeout)
    return status, body


def get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: deskprov.test", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def test_path_tricks_are_4xx_and_never_touch_the_filesystem(
    api: Api, client: TestClient
) -> None:
    s = await phone_setup(api)
    token = s["urls"]["yealink"]["url"].split("/p/", 1)[1].rstrip("/")
    ua = f"User-Agent: {YEALINK_UA}"
    tricks = [
        f"/p/{token}/../../../etc/passwd",
        f"/p/{token}/..%2f..%2f..%2fetc%2fpasswd",
        f"/p/{token}/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"/p/{token}/..%5c..%5cwindows%5cwin.ini",
        f"/p/{token}/805ec0d57d72.cfg%00.xml",
        f"/p/{token}/%00",
        f"/p/{token}/805ec0d57d72%2ecfg%2f",
        f"/p/{token}/{'a' * 5000}.cfg",
        f"/p/{token}/805ec0d57d72.cfg/extra",
        f"/p/..%2f{token}/805ec0d57d72.cfg",
        "/p/../../etc/passwd",
        f"/p/{token}/%c0%ae%c0%ae/passwd",
    ]
    _watching.append(True)
    try:
        for target in tricks:
            status, body = await send(client.server, get(target, ua))
            assert 400 <= status < 500, (target, status)
            assert b"root:" not in body and len(body) < 200, target
    finally:
        _watching.clear()
    assert _opened == []
    # The genuine request on the same URL still works: the tricks changed nothing.
    status, body = await send(client.server, get(f"/p/{token}/805ec0d57d72.cfg", ua))
    assert status == 200 and b"account.1.password" in body


async def test_oversized_request_lines_and_headers_are_400(client: TestClient) -> None:
    long_url = "/p/" + "A" * HTTP_LIMITS["max_line_size"] + "/x.cfg"
    assert (await send(client.server, get(long_url)))[0] == 400
    huge_header = "X-Pad: " + "b" * (HTTP_LIMITS["max_field_size"] + 1)
    assert (await send(client.server, get("/healthz", huge_header)))[0] == 400
    many = [f"X-H{i}: v" for i in range(HTTP_LIMITS["max_headers"] + 1)]
    assert (await send(client.server, get("/healthz", *many)))[0] == 400
    # Within the limits, the same server answers.
    assert (await send(client.server, get("/healthz", "X-Pad: " + "b" * 100)))[0] == 200


def post(path: str, api_key: str, *, chunks: list[bytes] | None = None) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: deskprov.test",
        f"Authorization: Bearer {api_key}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        "Connection: close",
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks or [])
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_chunked_body_over_the_limit_is_413_and_changes_nothing(
    api: Api, client: TestClient
) -> None:
    """No Content-Length to refuse up front: the limit holds while the body streams in."""
    chunk = b" " * 65536
    raw = post("/api/v1/users", api.key, chunks=[b'{"name": "x", "email": "a@b.example"'])
    raw += (
        b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17)) + b"1\r\n}\r\n0\r\n\r\n"
    )
    status, body = await send(client.server, raw)
    assert status == 413 and b"payload_too_large" in body
    assert (await api.get("/users"))["items"] == []


async def test_a_body_that_never_finishes_is_408(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_request, "BODY_TIMEOUT", 0.5)
    # Half a body, then silence: the server gives up instead of holding the request forever.
    raw = post("/api/v1/users", api.key, chunks=[b'{"name": "Slow",'])
    started = time.monotonic()
    status, body = await send(client.server, raw)
    assert status == 408 and b"request_timeout" in body
    assert time.monotonic() - started < 5
    assert (await api.get("/users"))["items"] == []


async def test_a_trickled_request_head_is_cut_off(settings: Any) -> None:
    """Slowloris: bytes that keep coming, never a whole head. The keep-alive timeout is what
    cuts it off (a trickle does not extend it); shortened here to keep the test fast."""
    server = TestServer(create_app(settings, keyring=Keyring.generate()))
    await server.start_server(
        access_log_class=RedactingAccessLogger, **{**HTTP_LIMITS, "keepalive_timeout": 1.0}
    )
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            for byte in get("/healthz", "X-Pad: " + "c" * 200):
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
                if reader.at_eof() or time.monotonic() - started > 10:
                    raise ConnectionResetError
        assert time.monotonic() - started < 4
        assert await reader.read() == b""  # closed without an answer
        writer.close()
    finally:
        await server.close()
