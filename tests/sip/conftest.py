"""The SIP tests' fixtures: the app asks a real Kamailio (started per test, on free loopback
ports) for registrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from deskprov.appkeys import SERVICES
from deskprov.settings import Settings
from tests.sip.harness import Kamailio, free_port, kamailio_db
from tests.sip.harness import running_kamailio as start_kamailio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app asks Kamailio (started below) for registrations."""
    return settings.model_copy(update={"kamailio_rpc_url": f"http://127.0.0.1:{free_port()}/RPC"})


@pytest.fixture
async def kamailio(
    settings: Settings, client: TestClient, tmp_path: Path
) -> AsyncIterator[Kamailio]:
    db = await kamailio_db(settings, client.app[SERVICES].deps.db.engine)
    async with start_kamailio(tmp_path, settings, db) as running:
        yield running
