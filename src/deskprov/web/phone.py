"""``/p/{token}/{filename}``: what desk phones fetch. Every failure is an empty 404; only an
address that keeps sending bad tokens is told to wait (429)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from deskprov.appkeys import BAD_TOKENS, METRICS, SERVICES
from deskprov.errors import PayloadTooLarge, RequestTimeout
from deskprov.services.phone import MAX_UPLOAD_BYTES, PhoneAnswer, PhoneRequest
from deskprov.web.request import read_capped

log = logging.getLogger(__name__)
PREFIX = "/p/"


def _request(request: web.Request) -> PhoneRequest:
    return PhoneRequest(
        token=request.match_info["token"],
        filename=request.match_info["filename"],
        user_agent=request.headers.get("User-Agent", "")[:512],
        address=request.remote or "unknown",
        if_none_match=request.headers.get("If-None-Match"),
    )


def _respond(request: web.Request, answer: PhoneAnswer) -> web.Response:
    if answer.refused is not None:
        limiter = request.app[BAD_TOKENS]
        address = request.remote or "unknown"
        wait = limiter.retry_after(address)
        limiter.fail(address)
        if wait is not None:
            return web.Response(status=429, headers={"Retry-After": str(wait)})
        return web.Response(status=404)
    if answer.cached:
        request.app[METRICS].cache_hits[answer.vendor or "unknown"] += 1
    headers = {"Cache-Control": "no-cache"}
    if answer.etag:
        headers["ETag"] = answer.etag
    if answer.status != 200:
        return web.Response(status=answer.status, headers=headers)
    assert answer.content_type is not None
    headers["Content-Type"] = answer.content_type
    if not answer.cached:
        request.app[METRICS].renders[answer.vendor or "unknown"] += 1
    return web.Response(body=answer.body, headers=headers)


def _guarded(
    name: str, handle: Callable[[web.Request], Awaitable[web.Response]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """What the management middlewares do for other routes (the phone routes run without
    them): count the request, and answer any failure, our own bugs included, with a 404."""

    async def guarded(request: web.Request) -> web.Response:
        try:
            response = await handle(request)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, name)
            response = web.Response(status=404)
        request.app[METRICS].requests[(name, response.status)] += 1
        return response

    return guarded


async def fetch(request: web.Request) -> web.Response:
    answer = await request.app[SERVICES].phone.fetch(_request(request))
    return _respond(request, answer)


async def upload(request: web.Request) -> web.Response:
    try:
        body = await read_capped(request, MAX_UPLOAD_BYTES)
    except PayloadTooLarge:
        return web.Response(status=413)
    except RequestTimeout:
        return web.Response(status=408)
    answer = await request.app[SERVICES].phone.upload(_request(request), body)
    return _respond(request, answer)


def add_routes(app: web.Application) -> None:
    app.router.add_get(PREFIX + "{token}/{filename}", _guarded("phone.fetch", fetch))
    app.router.add_put(PREFIX + "{token}/{filename}", _guarded("phone.upload", upload))
