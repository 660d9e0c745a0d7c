"""``/p/{token}/{filename}``: what desk phones fetch. Every failure is an empty 404; only an
address that keeps sending bad tokens is told to wait (429)."""

from __future__ import annotations

from aiohttp import web

from deskprov.appkeys import BAD_TOKENS, CLIENTS, METRICS, SERVICES
from deskprov.errors import PayloadTooLarge, RequestTimeout
from deskprov.services.phone import MAX_UPLOAD_BYTES, PhoneAnswer, PhoneRequest
from deskprov.web.guard import guarded
from deskprov.web.request import read_capped
from deskprov.web.server import trust

PREFIX = "/p/"


def _request(request: web.Request, address: str) -> PhoneRequest:
    return PhoneRequest(
        token=request.match_info["token"],
        filename=request.match_info["filename"],
        user_agent=request.headers.get("User-Agent", "")[:512],
        address=address,
        if_none_match=request.headers.get("If-None-Match"),
        method=request.method,
    )


def _respond(request: web.Request, answer: PhoneAnswer, address: str) -> web.Response:
    if answer.refused is not None:
        limiter = request.app[BAD_TOKENS]
        wait = limiter.retry_after(address)
        limiter.fail(address)
        if wait is not None:
            return web.Response(status=429, headers={"Retry-After": str(wait)})
        return web.Response(status=404)
    trust(request)
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
    address = request.app[CLIENTS].of(request)
    answer = await request.app[SERVICES].phone.fetch(_request(request, address))
    return _respond(request, answer, address)


async def upload(request: web.Request) -> web.Response:
    """The token and the URL are checked before the body is read: a refused upload costs no
    more than a refused fetch (its body is never buffered)."""
    address = request.app[CLIENTS].of(request)
    phone = request.app[SERVICES].phone
    admitted = await phone.admit_upload(_request(request, address))
    if isinstance(admitted, PhoneAnswer):
        response = _respond(request, admitted, address)
        response.force_close()  # (the unread body is not worth reading)
        return response
    trust(request)
    try:
        body = await read_capped(request, MAX_UPLOAD_BYTES)
    except PayloadTooLarge:
        return web.Response(status=413)
    except RequestTimeout:
        return web.Response(status=408)
    return _respond(request, await phone.upload(admitted, body), address)


async def not_found(request: web.Request) -> web.Response:
    """Anything else under ``/p/`` (no file name, more path, another method): empty, like every
    other refusal to a phone (aiohttp's own 404 and 405 have a body)."""
    return web.Response(status=404)


def add_routes(app: web.Application) -> None:
    """On the root application: no middleware runs for phones (see ``guarded``).

    A phone that appends its own "/" to a server URL ending in "/" asks for
    ``/p/<token>//<file>``: the same file. Its route comes second, so that the usual path
    costs nothing more. Anything else under ``/p/`` is an empty 404 (``not_found``), last."""
    get = guarded(app, "phone.fetch", fetch, failure=404)
    put = guarded(app, "phone.upload", upload, failure=404)
    for path in (PREFIX + "{token}/{filename}", PREFIX + "{token}//{filename}"):
        app.router.add_get(path, get)
        app.router.add_put(path, put)
    app.router.add_route(
        "*", PREFIX + "{rest:.*}", guarded(app, "phone.other", not_found, failure=404)
    )
