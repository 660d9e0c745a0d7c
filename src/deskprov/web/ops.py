"""Operations endpoints: health, metrics, the OpenAPI document."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from deskprov.appkeys import METRICS, SERVICES
from deskprov.problems import log_failure
from deskprov.web.api import PREFIX
from deskprov.web.guard import guarded
from deskprov.web.openapi import build_document

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    deps = request.config_dict[SERVICES].deps
    try:
        async with deps.db.read() as s:
            await s.execute(text("SELECT 1"))
    except Exception as exc:
        log_failure(log, exc, "health check: the database does not answer", deps.settings)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.config_dict[METRICS].render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document())


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    route = request.match_info.route.name or "unmatched"
    request.config_dict[METRICS].requests[(route, response.status)] += 1
    return response


def add_probe_routes(app: web.Application) -> None:
    """``/healthz``, on every listener's root application (no middleware: see ``guarded``)."""
    app.router.add_get("/healthz", guarded(app, "healthz", healthz, failure=500), name="healthz")


def add_management_routes(app: web.Application) -> None:
    """``/metrics`` and the OpenAPI document, on the root application that carries the
    management API. The document is public, so it is routed here, not in the API's application
    behind its key check: aiohttp tries the longest path first, so this route wins over the
    API's mount point."""
    for name, path, handle in (
        ("metrics", "/metrics", metrics),
        ("openapi", PREFIX + "/openapi.json", openapi),
    ):
        app.router.add_get(path, guarded(app, name, handle, failure=500), name=name)
