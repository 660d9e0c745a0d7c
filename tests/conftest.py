"""Shared fixtures: a real app on a real SQLite file, and a fake Twilio on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner

from deskprov.app import create_app
from deskprov.appkeys import SERVICES
from deskprov.security.keyring import Keyring
from deskprov.services.base import utc_now
from deskprov.services.organisation import create_organisation
from deskprov.settings import Settings
from deskprov.web.accesslog import RedactingAccessLogger
from deskprov.web.limits import HTTP_LIMITS
from deskprov.web.server import ConnectionLimits, GuardedRunner
from tests import databases
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

TWILIO_CREDENTIALS = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}


@pytest.fixture(scope="session", autouse=True)
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated database (see tests/databases.py); each test works on its own copy."""
    return databases.prepare_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
async def fake_twilio(aiohttp_server: Any) -> AsyncIterator[tuple[FakeTwilio, TestServer]]:
    """The strict local Twilio; a request it finds against Twilio's API description fails
    the test."""
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    yield fake, server
    for held in fake.holds:
        held.release()
    assert fake.violations == [], "requests Twilio's API does not allow"


@pytest.fixture
def settings(tmp_path: Path, migrated_db: str, fake_twilio: Any) -> Iterator[Settings]:
    _, server = fake_twilio
    database_url = databases.fresh_url(migrated_db, tmp_path)
    yield Settings(
        database_url=database_url,
        public_url="http://deskprov.test",
        key_file=tmp_path / "deskprov.keys",
        twilio_api_url=str(server.make_url("")).rstrip("/"),
    )
    databases.drop(database_url)


class GuardedTestServer(TestServer):
    """A test server on ``deskprov serve``'s runner (connection limits, bare 400s)."""

    def __init__(self, app: Any, *, limits: ConnectionLimits | None = None) -> None:
        super().__init__(app)
        self.limits = limits

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return GuardedRunner(self.app, limits=self.limits, **kwargs)


class Api:
    """The management API as one API key sees it; every call states the status it expects."""

    def __init__(
        self, client: TestClient, key: str, org_id: str, twilio: FakeTwilio | None = None
    ) -> None:
        self.client = client
        self.key = key
        self.org_id = org_id
        self.twilio = twilio  # the local Twilio this server talks to

    def as_key(self, key: str) -> Api:
        return Api(self.client, key, self.org_id)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        resp = await self.client.request(
            method,
            "/api/v1" + path,
            json=body if raw is None else None,
            data=raw,
            headers=sent,
        )
        text = await resp.text()
        assert resp.status == status, f"{method} {path}: {resp.status} {text}"
        self.last = resp
        if resp.content_type == "application/json":
            return await resp.json()
        return text

    async def get(self, path: str, *, status: int = 200) -> Any:
        return await self.call("GET", path, status=status)

    async def post(self, path: str, body: Any = None, *, status: int = 201) -> Any:
        return await self.call("POST", path, body, status=status)

    async def patch(self, path: str, body: Any, *, status: int = 200) -> Any:
        return await self.call("PATCH", path, body, status=status)

    async def delete(self, path: str, *, status: int = 204) -> Any:
        return await self.call("DELETE", path, status=status)


class Clock:
    """The app's clock in tests: real time, moved on by hand to test expiry without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(settings: Settings, clock: Clock, aiohttp_client: Any) -> TestClient:
    # (settings first: set up first, torn down last, after the app has closed its database)
    app = create_app(settings, keyring=Keyring.generate(), clock=clock)
    server = GuardedTestServer(app)
    # Started as `deskprov serve` starts it: the access log that redacts tokens, the same limits.
    await server.start_server(access_log_class=RedactingAccessLogger, **HTTP_LIMITS)
    return await aiohttp_client(server)


@pytest.fixture
async def api(client: TestClient, fake_twilio: tuple[FakeTwilio, TestServer]) -> Api:
    created = await create_organisation(client.app[SERVICES].deps, "Acme")
    return Api(client, created.api_key, created.organisation_id, fake_twilio[0])


@pytest.fixture
async def other_api(client: TestClient, fake_twilio: tuple[FakeTwilio, TestServer]) -> Api:
    """An admin of a second organisation on the same server."""
    created = await create_organisation(client.app[SERVICES].deps, "Globex")
    return Api(client, created.api_key, created.organisation_id, fake_twilio[0])


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)
