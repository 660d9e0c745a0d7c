"""Refused phone requests, counted in memory and recorded behind the request.

A refusal costs the request nothing but a counter: per URL, address and reason, each window of
``WINDOW`` gets one ``provisioning.refused`` audit event (written within a second of the first
refusal) whose ``detail`` carries ``count``, ``first_seen`` and ``last_seen``, updated once a
second while refusals keep coming. So 20,000 requests of a revoked token make one row, not
20,000, and the answer to a genuine token takes what a forged one's does (before, the write made
it ~4x slower, which told the holder that the URL was real). Forged and malformed tokens are
counted the same way per address and reason, and only logged.

The log gets one line when a window opens and, if more came, one with the total when it closes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from deskprov.db.models import AuditEvent
from deskprov.domain.ids import new_id
from deskprov.services.base import Deps, every, iso

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=10)
MAX_TALLIES = 50_000  # windows open at once; beyond, refusals are counted only as dropped


@dataclass(slots=True)
class Refusal:
    """One refused request, as the phone service saw it."""

    address: str
    reason: str
    method: str
    file: str
    at: datetime
    org_id: str | None = None  # None: not a genuine token, so nobody's URL
    url_id: str | None = None
    actor: str = "anonymous"


@dataclass(slots=True)
class _Tally:
    first: Refusal
    last: Refusal
    count: int = 1
    written: int = 0  # the count the audit event holds
    event_id: str | None = None  # once inserted


class RefusalLog:
    def __init__(self, deps: Deps, interval: float = 1.0) -> None:
        self.deps = deps
        self.interval = interval
        self._tallies: dict[tuple[str | None, str | None, str, str], _Tally] = {}
        self._closed: list[_Tally] = []  # windows over, not yet written in full
        self._lock = asyncio.Lock()
        self.dropped = 0

    def note(self, refusal: Refusal) -> bool:
        """Count a refusal; True when it opened a window (the first of its kind a while)."""
        key = (refusal.org_id, refusal.url_id, refusal.address, refusal.reason)
        tally = self._tallies.get(key)
        if tally is not None and refusal.at - tally.first.at < WINDOW:
            tally.count += 1
            tally.last = refusal
            return False
        if tally is not None:  # its window is over: close it, open the next
            self._close(tally)
            if tally.first.url_id and tally.count != tally.written:
                self._closed.append(tally)
        elif len(self._tallies) >= MAX_TALLIES:
            self.dropped += 1
            return False
        self._tallies[key] = _Tally(refusal, refusal)
        log.info(
            "refused %s %s%s from %s: %s",
            refusal.method,
            refusal.file,
            f" for {refusal.url_id}" if refusal.url_id else "",
            refusal.address,
            refusal.reason,
        )
        return True

    def _close(self, tally: _Tally) -> None:
        if tally.count > 1:
            first = tally.first
            log.info(
                "refused %d requests%s from %s since %s: %s",
                tally.count,
                f" for {first.url_id}" if first.url_id else "",
                first.address,
                iso(first.at),
                first.reason,
            )

    async def run(self) -> None:
        await every(self.interval, self.flush, "refused phone requests")

    async def flush(self) -> None:
        """Write what changed; forget windows that are over and written."""
        async with self._lock:
            now = self.deps.clock()
            if self.dropped:
                log.warning("%d refused phone requests not recorded (too many)", self.dropped)
                self.dropped = 0
            closed, self._closed = self._closed, []
            changed = closed + [
                t for t in self._tallies.values() if t.first.url_id and t.count != t.written
            ]
            if changed:
                counts = [t.count for t in changed]
                try:
                    await self._write(changed, counts)
                except Exception:
                    self._closed.extend(closed)  # (the open ones are still in the table)
                    raise
                for tally, count in zip(changed, counts, strict=True):
                    tally.written = count
            for key, tally in list(self._tallies.items()):
                if now - tally.first.at >= WINDOW and (
                    tally.count == tally.written or not tally.first.url_id
                ):
                    self._close(tally)
                    del self._tallies[key]

    async def _write(self, tallies: list[_Tally], counts: list[int]) -> None:
        new = [t for t in tallies if t.event_id is None]
        ids = [new_id("audit_event") for _ in new]
        async with self.deps.db.write() as s:
            if new:
                await s.execute(
                    insert(AuditEvent),
                    [
                        {
                            "id": event_id,
                            "created_at": t.first.at,
                            "org_id": t.first.org_id,
                            "actor": t.first.actor,
                            "action": "provisioning.refused",
                            "target_type": "provisioning_url",
                            "target_id": t.first.url_id,
                            "detail": _detail(t, t.count),
                        }
                        for t, event_id in zip(new, ids, strict=True)
                    ],
                )
            for tally, count in zip(tallies, counts, strict=True):
                if tally.event_id is not None:
                    await s.execute(
                        update(AuditEvent)
                        .where(AuditEvent.id == tally.event_id)
                        .values(detail=_detail(tally, count))
                    )
        for tally, event_id in zip(new, ids, strict=True):
            tally.event_id = event_id


def _detail(tally: _Tally, count: int) -> dict[str, Any]:
    first, last = tally.first, tally.last
    return {
        "reason": first.reason,
        "file": last.file,
        "ip": first.address,
        "method": last.method,
        "count": count,
        "first_seen": iso(first.at),
        "last_seen": iso(last.at),
    }
