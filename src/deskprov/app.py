"""``create_app(settings)``: the one place where everything is wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from aiohttp import web

from deskprov.appkeys import (
    API_KEY_FAILURES,
    BAD_TOKENS,
    CLIENTS,
    KEYRING,
    METRICS,
    SERVICES,
    SETTINGS,
)
from deskprov.db import migrate
from deskprov.db.engine import Database, check_writable, make_engine, unwritable_as_error
from deskprov.security.keyring import Keys, LiveKeys
from deskprov.security.secretbox import SecretBox
from deskprov.services.base import Clock, Deps, utc_now
from deskprov.services.keyfile import open_key_file
from deskprov.services.registry import Services
from deskprov.settings import Settings
from deskprov.web import api, hooks, ops, phone
from deskprov.web.accesslog import quiet_malformed_requests
from deskprov.web.admin import routes as admin
from deskprov.web.errors import error_middleware
from deskprov.web.limits import ClientAddresses, FailureLimiter, KeyFailures
from deskprov.web.metrics import Metrics

log = logging.getLogger(__name__)


class SchemaOutdated(RuntimeError):
    """The database is behind the code's migrations."""


def create_app(
    settings: Settings, *, clock: Clock = utc_now, keyring: Keys | None = None
) -> web.Application:
    """The phone endpoint, the probes and the OpenAPI document sit on the root application,
    which has no middleware: on the hot path every layer costs (two were a tenth of a cached
    fetch), so they count their requests and answer their own failures. The management API
    and the admin pages are sub-applications, each with its middlewares."""
    quiet_malformed_requests()
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[API_KEY_FAILURES] = KeyFailures(limit=100, window=60)
    app[CLIENTS] = ClientAddresses(settings.trusted_proxies)
    app[BAD_TOKENS] = FailureLimiter(limit=100, window=60)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(partial(_services, clock=clock, keyring=keyring))
    phone.add_routes(app)
    ops.add_routes(app)
    api_app = web.Application(
        middlewares=[ops.metrics_middleware, error_middleware, api.auth_middleware]
    )
    api.add_routes(api_app)
    app.add_subapp(api.PREFIX, api_app)
    admin_app = web.Application(
        middlewares=[ops.metrics_middleware, error_middleware, admin.admin_middleware]
    )
    admin.add_routes(admin_app)
    app.add_subapp(admin.BASE, admin_app)
    app.add_subapp(hooks.PREFIX, hooks.hooks_app())
    return app


async def _services(
    app: web.Application, *, clock: Clock, keyring: Keys | None
) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = Database(make_engine(settings.database_url))
    services: Services | None = None
    try:
        async with unwritable_as_error(db):
            if settings.is_sqlite:
                await migrate.upgrade(db.engine)
            elif not await migrate.is_current(db.engine):
                raise SchemaOutdated(
                    "the database schema is not current: run `deskprov db upgrade`"
                )
        await check_writable(db)
        if keyring is None:  # (a missing key file is refused when the database needs it)
            await open_key_file(db, settings.key_file)
            keyring = LiveKeys(settings.key_file)
        app[KEYRING] = keyring
        async with aiohttp.ClientSession() as http:
            deps = Deps(
                db=db,
                box=SecretBox(keyring),
                settings=settings,
                clock=clock,
                http=http,
                keyring=keyring,
            )
            services = Services.build(deps)
            app[SERVICES] = services
            recorders = [
                asyncio.create_task(services.phone.devices.run()),
                asyncio.create_task(services.phone.refusals.run()),
            ]
            log.info("ready to serve")
            try:
                yield
            finally:
                for recorder in recorders:
                    recorder.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await recorder
                await services.phone.devices.flush()
                await services.phone.refusals.flush()
    finally:
        await db.close()
        if services is not None:  # last: see SqliteHotStore.close
            await services.phone.hot.close()
