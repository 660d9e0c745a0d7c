"""``/p/{token}/{filename}``: what desk phones fetch. Every failure is an empty 404; only an
address that keeps sending bad tokens is told to wait (429)."""

from __future__ import annotations

from aiohttp import web

from deskprov.appkeys import BAD_TOKENS, METRICS, SERVICES
from deskprov.errors import PayloadTooLarge, RequestTimeout
from deskprov.services.phone import MAX_UPLOAD_BYTES, PhoneAnswer, PhoneRequest
from deskprov.web.guard import guarded
from deskprov.web.request import read_capped

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
    """On the root application: no middleware runs for phones (see ``guarded``).

    A phone that appends its own "/" to a server URL ending in "/" asks for
    ``/p/<token>//<file>``: the same file. Its route comes second, so that the usual path
    costs nothing more."""
    get = guarded(app, "phone.fetch", fetch, failure=404)
    put = guarded(app, "phone.upload", upload, failure=404)
    for path in (PREFIX + "{token}/{filename}", PREFIX + "{token}//{filename}"):
        app.router.add_get(path, get)
        app.router.add_put(path, put)
