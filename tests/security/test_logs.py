"""Finding 4: tokens reached the access log on paths that did not start exactly with ``/p/``,
and aiohttp's own 400 answers echoed the request line (token included) back to the client.
Tokens are now cut out by what they look like, anywhere in a logged path, and those answers
are a bare status."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient

from deskprov.security.redaction import redact
from tests.conftest import Api
from tests.factories import make_url, sip_setup
from tests.security.conftest import YEALINK_UA, request, send, token_of


async def test_tokens_never_reach_the_logs_whatever_the_path(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    s = await sip_setup(api)
    token = token_of(await make_url(api, s["pa"], s["user"]["id"], "yealink"))
    caplog.set_level(logging.DEBUG)
    paths = [
        f"//p/{token}/805ec0d57d72.cfg",
        f"/./p/{token}/805ec0d57d72.cfg",
        f"/P/{token}/805ec0d57d72.cfg",
        f"/admin/../p/{token}/805ec0d57d72.cfg",
        f"/healthz/{token}",
        f"/p/{token}",
        f"/p/{token}/{token}.cfg",
        f"/api/v1/users/{token}",
        f"/p/{token}/805ec0d57d72.cfg?{token}",
        f"/p/{token}/805ec0d57d72.cfg",  # (the canonical one, answered 200)
    ]
    for path in paths:
        status, head, body = await send(
            client.server, request("GET", path, f"User-Agent: {YEALINK_UA}")
        )
        assert status in (200, 303, 400, 401, 404), (path, status)
        assert status == 200 or token.encode() not in head + body
    assert "805ec0d57d72.cfg" in caplog.text  # (the access log did write these requests)
    assert token not in caplog.text


async def test_malformed_requests_get_a_bare_400_that_quotes_nothing(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    s = await sip_setup(api)
    token = token_of(await make_url(api, s["pa"], s["user"]["id"], "yealink"))
    caplog.set_level(logging.DEBUG)
    malformed = [
        f"GET /p/{token}/805ec0d57d72.cfg HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        f"GET /p/{token}/\x01.cfg HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /p/{token}/x.cfg HTTP/9.9\r\nHost: x\r\n\r\n",
        f"GET /p/{token}/x.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ]
    for raw in malformed:
        status, head, body = await send(client.server, raw.encode("latin-1"))
        assert 400 <= status < 500, raw
        assert body == b"" and token.encode() not in head
    assert token not in caplog.text


def test_redaction_by_shape() -> None:
    token = "AQ4lAH_CD_HP8kN762pov-vRSYHSQ_A5mkvCFuPv0LepqgYuxvVhHQ"
    assert redact(f"/p/{token}/0004f249d83f-deskprov.cfg") == "/p/<token>/0004f249d83f-deskprov.cfg"
    assert redact(f"/healthz/{token}") == "/healthz/<token>"
    assert redact(f"/x/dpk_{token[:43]}") == "/x/<token>"
    assert redact("/api/v1/provider-accounts/pa_abcdefghijklmnop/sip-users") == (
        "/api/v1/provider-accounts/pa_abcdefghijklmnop/sip-users"
    )
