"""``create_app(settings)``: the one place where everything is wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from deskprov.security.keyring import Keys, LiveKeys
from deskprov.security.secretbox import SecretBox
from deskprov.services.base import Clock, Deps, utc_now
from deskprov.services.keyfile import open_key_file
from deskprov.services.offline import offline_db
from deskprov.services.registry import Services
from deskprov.settings import Settings
from deskprov.web import api, hooks, ops, phone
from deskprov.web.accesslog import quiet_malformed_requests
from deskprov.web.admin import routes as admin
from deskprov.web.errors import error_middleware
from deskprov.web.limits import ClientAddresses, FailureLimiter, KeyFailures
from deskprov.web.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Apps:
    """The phones' application and, when the management side has its own listener, its
    application (sharing the phones' services, keys and counters)."""

    phones: web.Application
    admin: web.Application | None


def create_app(
    settings: Settings, *, clock: Clock = utc_now, keyring: Keys | None = None
) -> web.Application:
    """Everything on one application (one listener)."""
    return create_apps(settings, clock=clock, keyring=keyring, separate_admin=False).phones


def create_apps(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    keyring: Keys | None = None,
    separate_admin: bool | None = None,
) -> Apps:
    """The phone endpoint and the probes sit on the root application, which has no middleware:
    on the hot path every layer costs (two were a tenth of a cached fetch), so they count their
    requests and answer their own failures. The management API and the admin pages are
    sub-applications, each with its middlewares, mounted with ``/metrics`` and the OpenAPI
    document on the same root, or on a second root application served by its own listener
    (``DESKPROV_ADMIN_PORT``), so that the phones' listener can face the internet alone."""
    separate = settings.admin_separate if separate_admin is None else separate_admin
    quiet_malformed_requests()
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[API_KEY_FAILURES] = KeyFailures(limit=100, window=60)
    app[CLIENTS] = ClientAddresses(settings.trusted_proxies)
    app[BAD_TOKENS] = FailureLimiter(limit=100, window=60)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(partial(_services, clock=clock, keyring=keyring))
    app.cleanup_ctx.append(_publish_metrics)
    phone.add_routes(app)
    ops.add_probe_routes(app)
    # Twilio's webhooks come from Twilio's cloud: on the phones' (public) listener.
    app.add_subapp(hooks.PREFIX, hooks.hooks_app())
    admin_root = app
    if separate:
        admin_root = web.Application(client_max_size=settings.max_body_bytes)
        admin_root[SETTINGS] = settings
        admin_root[API_KEY_FAILURES] = app[API_KEY_FAILURES]
        admin_root[CLIENTS] = app[CLIENTS]
        admin_root[METRICS] = app[METRICS]
        admin_root.on_startup.append(partial(_share_services, app))
        ops.add_probe_routes(admin_root)
    ops.add_management_routes(admin_root)
    api_app = web.Application(
        middlewares=[ops.metrics_middleware, error_middleware, api.auth_middleware]
    )
    api.add_routes(api_app)
    admin_root.add_subapp(api.PREFIX, api_app)
    admin_app = web.Application(
        middlewares=[ops.metrics_middleware, error_middleware, admin.admin_middleware]
    )
    admin.add_routes(admin_app)
    admin_root.add_subapp(admin.BASE, admin_app)
    return Apps(phones=app, admin=admin_root if separate else None)


async def _share_services(phones: web.Application, admin_root: web.Application) -> None:
    """The management listener's application starts after the phones' (``web.server``) and
    uses the services it opened."""
    admin_root[SERVICES] = phones[SERVICES]
    admin_root[KEYRING] = phones[KEYRING]


async def _publish_metrics(app: web.Application) -> AsyncIterator[None]:
    """Counts reach prometheus_client once a second (and at each scrape), so that with several
    workers every scrape sees every worker's counts (see ``web.metrics``)."""

    async def publish() -> None:
        while True:
            await asyncio.sleep(1)
            app[METRICS].publish()

    task = asyncio.create_task(publish())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    app[METRICS].publish()


async def _services(
    app: web.Application, *, clock: Clock, keyring: Keys | None
) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    services: Services | None = None
    try:
        async with offline_db(settings) as db:
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
        if services is not None:  # last, after the database: see SqliteHotStore.close
            await services.phone.hot.close()
