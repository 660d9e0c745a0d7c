"""What the management middlewares do, for the routes that run without them (the phone
endpoint and the probes, on the root application): count each request, and answer any
failure, our own bugs included, with a bare status after logging it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from deskprov.appkeys import METRICS
from deskprov.problems import log_failure

log = logging.getLogger(__name__)

Handle = Callable[[web.Request], Awaitable[web.Response]]


def guarded(app: web.Application, name: str, handle: Handle, *, failure: int) -> Handle:
    counts = app[METRICS].requests  # (looked up once, not on every request)

    async def guarded_handle(request: web.Request) -> web.Response:
        try:
            response = await handle(request)
        except Exception as exc:
            log_failure(log, exc, f"{request.method} {name}")
            response = web.Response(status=failure)
        counts[(name, response.status)] += 1
        return response

    return guarded_handle
