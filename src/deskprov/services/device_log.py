"""What phones did, recorded behind the request: notes gathered in memory and written to the
``devices`` table in one statement a second, so a boot storm does not queue on the database.

A phone whose requests keep the same result is written at most once a minute (``last_seen`` and
``last_file`` are accurate to that); any other change (result, address, model, URL) is written
within a second.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite

from deskprov.db.models import Device
from deskprov.domain.ids import new_id
from deskprov.services.base import Deps, every
from deskprov.services.caches import Lru

log = logging.getLogger(__name__)

QUIET_REWRITE = timedelta(seconds=60)
REMEMBERED_DEVICES = 200_000
WRITE_CHUNK = 500


@dataclass(slots=True)  # (not frozen: one is made for every phone request, and that is slower)
class DeviceNote:
    org_id: str
    mac: str
    vendor: str
    model: str | None
    firmware: str | None
    user_id: str
    provisioning_url_id: str
    at: datetime
    ip: str
    file: str
    result: str

    def signature(self) -> int:
        """Equal for two notes that differ only in what an installer need not see at once
        (the time and the file)."""
        return hash(
            (
                self.org_id,
                self.mac,
                self.vendor,
                self.model,
                self.firmware,
                self.user_id,
                self.provisioning_url_id,
                self.ip,
                self.result,
            )
        )


@dataclass(frozen=True)
class _Written:
    """What is remembered of a device's last written note (kept small: one per phone)."""

    signature: int
    at: datetime
    model: str | None
    firmware: str | None


class DeviceLog:
    def __init__(self, deps: Deps, interval: float = 1.0) -> None:
        self.deps = deps
        self.interval = interval
        self._pending: dict[tuple[str, str], DeviceNote] = {}
        self._written: Lru[tuple[str, str], _Written] = Lru(REMEMBERED_DEVICES)
        self._lock = asyncio.Lock()

    def note(self, note: DeviceNote) -> None:
        key = (note.org_id, note.mac)
        written = self._written.get(key)
        earlier = self._pending.get(key) or written
        if earlier is not None and note.model is None:  # keep what an earlier request said
            note = replace(note, model=earlier.model, firmware=earlier.firmware)
        if (
            written is not None
            and written.signature == note.signature()
            and note.at - written.at < QUIET_REWRITE
        ):
            return
        self._pending[key] = note

    def knows(self, org_id: str, mac: str) -> bool:
        """Whether this phone has a record (written by this process, or about to be)."""
        key = (org_id, mac)
        return key in self._pending or self._written.get(key) is not None

    async def run(self) -> None:
        await every(self.interval, self.flush, "device activity")

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            notes, self._pending = self._pending, {}
            try:
                await self._write(list(notes.values()))
            except Exception:
                for key, note in notes.items():  # keep them for the next flush
                    self._pending.setdefault(key, note)
                raise
            for key, note in notes.items():
                self._written.put(
                    key, _Written(note.signature(), note.at, note.model, note.firmware)
                )

    async def _write(self, notes: list[DeviceNote]) -> None:
        """Insert new phones, update the others: one transaction, ``WRITE_CHUNK`` notes per
        statement. (One statement for 10,000 changed phones stalled the event loop for
        190-270 ms while its parameters were prepared; between statements the loop runs. One
        commit, not one per chunk: every commit makes each worker read its URL states again.)"""
        async with self.deps.db.write() as s:
            dialect = s.get_bind().dialect.name
            upsert = _upsert(postgresql if dialect == "postgresql" else sqlite)
            for start in range(0, len(notes), WRITE_CHUNK):
                await s.execute(upsert, [_row(n) for n in notes[start : start + WRITE_CHUNK]])


def _upsert(dialect: Any) -> Any:
    stmt = dialect.insert(Device)
    changes = {
        name: stmt.excluded[name]
        for name in (
            "vendor",
            "user_id",
            "provisioning_url_id",
            "last_seen",
            "last_ip",
            "last_file",
            "last_result",
        )
    }
    # A note without a model (a refusal to some other client) keeps the one on record.
    for name in ("model", "firmware"):
        changes[name] = func.coalesce(stmt.excluded[name], Device.__table__.c[name])
    return stmt.on_conflict_do_update(index_elements=["org_id", "mac"], set_=changes)


def _row(n: DeviceNote) -> dict[str, Any]:
    return {
        "id": new_id("device"),
        "created_at": n.at,
        "org_id": n.org_id,
        "mac": n.mac,
        "vendor": n.vendor,
        "model": (n.model or "")[:64] or None,
        "firmware": (n.firmware or "")[:64] or None,
        "user_id": n.user_id,
        "provisioning_url_id": n.provisioning_url_id,
        "last_seen": n.at,
        "last_ip": n.ip[:64],
        "last_file": n.file[:255],
        "last_result": n.result,
    }
