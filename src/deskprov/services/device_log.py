"""What phones did, recorded behind the request: notes gathered in memory and written to the
``devices`` table in one transaction a second, so a boot storm does not queue on the database."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from deskprov.db.models import Device
from deskprov.domain.ids import new_id
from deskprov.services.base import Deps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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


class DeviceLog:
    def __init__(self, deps: Deps, interval: float = 1.0) -> None:
        self.deps = deps
        self.interval = interval
        self._pending: dict[tuple[str, str], DeviceNote] = {}
        self._lock = asyncio.Lock()

    def note(self, note: DeviceNote) -> None:
        key = (note.org_id, note.mac)
        earlier = self._pending.get(key)
        if earlier is not None and note.model is None:  # keep what an earlier request said
            note = replace(note, model=earlier.model, firmware=earlier.firmware)
        self._pending[key] = note

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                log.exception("could not record device activity; will retry")

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            notes, self._pending = self._pending, {}
            try:
                for attempt in range(3):
                    try:
                        await self._write(list(notes.values()))
                        return
                    except IntegrityError:  # another process inserted one of these phones first
                        if attempt == 2:
                            raise
            except Exception:
                for key, note in notes.items():  # keep them for the next flush
                    self._pending.setdefault(key, note)
                raise

    async def _write(self, notes: list[DeviceNote]) -> None:
        async with self.deps.db.write() as s:
            keys = [(n.org_id, n.mac) for n in notes]
            existing = {
                (d.org_id, d.mac): d
                for d in (
                    await s.scalars(
                        select(Device).where(tuple_(Device.org_id, Device.mac).in_(keys))
                    )
                ).all()
            }
            for n in notes:
                values = {
                    "vendor": n.vendor,
                    "user_id": n.user_id,
                    "provisioning_url_id": n.provisioning_url_id,
                    "last_seen": n.at,
                    "last_ip": n.ip[:64],
                    "last_file": n.file[:255],
                    "last_result": n.result,
                }
                if n.model is not None:
                    values.update(model=n.model[:64], firmware=(n.firmware or "")[:64] or None)
                device = existing.get((n.org_id, n.mac))
                if device is None:
                    s.add(
                        Device(
                            id=new_id("device"),
                            created_at=n.at,
                            org_id=n.org_id,
                            mac=n.mac,
                            **values,
                        )
                    )
                else:
                    for name, value in values.items():
                        setattr(device, name, value)
