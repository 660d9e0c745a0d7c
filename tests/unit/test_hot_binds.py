"""SQLite's bind batches: a batch that fails fails its own phones' binds only."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from deskprov.db import hot, migrate
from deskprov.db.engine import make_engine


async def test_binds_queued_behind_a_failed_batch_are_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    store = hot.SqliteHotStore(url)
    calls: list[list[str]] = []

    def bind_all(conn: Any, batch: list[hot.PendingBind]) -> list[str | None]:
        calls.append([item.url_id for item in batch])
        if len(calls) == 1:
            raise hot._Busy  # (the write lock taken: the batch waits in a thread)
        if len(calls) == 2:
            time.sleep(0.2)  # (while the second phone's bind is queued)
            raise sqlite3.OperationalError("disk I/O error")
        return [item.mac for item in batch]

    monkeypatch.setattr(store, "_bind_all", bind_all)
    try:
        first = asyncio.ensure_future(store.bind("url_a", "mac_a", {}))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(store.bind("url_b", "mac_b", {}))
        with pytest.raises(sqlite3.OperationalError):
            await asyncio.wait_for(first, 5)
        assert await asyncio.wait_for(second, 5) == "mac_b"
        assert calls == [["url_a"], ["url_a"], ["url_b"]]
    finally:
        await store.close()
