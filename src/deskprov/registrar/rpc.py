"""What Kamailio says about registrations, over its JSON-RPC endpoint (usrloc's ``ul.*``).

One request per read, with a short timeout; never called inside a database transaction. When
Kamailio cannot be asked (not configured, down, slow, or answering nonsense), callers get
``RegistrarUnreachable`` and show the registrar as unreachable; nothing else depends on it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 1.0
TABLE = "location"
NOT_SET = "[not set]"
# Twelve hex digits, bare or in pairs separated by : or -, standing alone.
_MAC = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{12}|(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2})(?![0-9a-f])")
_SEPARATORS = re.compile(r"[:-]")


class RegistrarUnreachable(RuntimeError):
    """Kamailio could not be asked."""


@dataclass(frozen=True)
class Registration:
    """One registered contact of an address of record (``user@domain``)."""

    aor: str
    contact: str
    user_agent: str | None
    expires_at: datetime | None  # None: a permanent contact
    received: str | None  # the address the REGISTER came from, when behind NAT
    instance: str | None  # +sip.instance, which holds the MAC on some phones

    def is_device(self, mac: str, vendor: str | None, address: str | None) -> bool:
        """Whether this contact is the phone with ``mac`` (12 lowercase hex digits) of ``vendor``
        that last fetched its files from ``address``. Phones that tell their MAC (in the user
        agent or +sip.instance: Yealink, Fanvil, Polycom's instance) are matched by it; others
        by the same address and the vendor's name in the user agent. Cheap, good for a list."""
        told = " ".join(filter(None, (self.user_agent, self.instance))).lower()
        macs = {_SEPARATORS.sub("", m) for m in _MAC.findall(told)}
        if macs:
            return mac in macs
        if not address or (vendor and vendor.lower() not in told):
            return False
        hosts = (self.received or "", self.contact)
        return any(re.search(rf"[:@\[]{re.escape(address)}[\]:;>]", h + ">") for h in hosts)


class KamailioRpc:
    def __init__(self, http: aiohttp.ClientSession | None, url: str) -> None:
        self.http = http
        self.url = url

    async def registrations(
        self, aors: Collection[str], now: datetime
    ) -> dict[str, list[Registration]]:
        """The contacts of each of ``aors`` (absent: none), in one request: ``ul.lookup`` for one
        AoR, ``ul.dump`` for more. ``now`` turns Kamailio's seconds-left into a time."""
        if not aors:
            return {}
        if len(aors) == 1:
            (aor,) = aors
            result = await self._call("ul.lookup", [TABLE, aor], missing_ok=True)
            records = [] if result is None else [result]
        else:
            result = await self._call("ul.dump", [])
            records = _dumped_records(result)
        found: dict[str, list[Registration]] = {}
        try:
            for record in records:
                info = record.get("Info", record)
                aor = info["AoR"]
                if aor in aors:
                    found[aor] = [_registration(aor, c["Contact"], now) for c in info["Contacts"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistrarUnreachable(f"Kamailio's answer was not understood: {exc!r}") from exc
        return found

    async def _call(self, method: str, params: list[str], *, missing_ok: bool = False) -> Any:
        if self.http is None or not self.url:
            raise RegistrarUnreachable("no Kamailio JSON-RPC URL is configured")
        body = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
        try:
            async with self.http.post(
                self.url, json=body, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            ) as resp:
                answer = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("Kamailio JSON-RPC %s at %s failed: %r", method, self.url, exc)
            raise RegistrarUnreachable(f"Kamailio did not answer: {exc!r}") from exc
        if not isinstance(answer, dict):
            raise RegistrarUnreachable("Kamailio's answer was not a JSON-RPC object")
        error = answer.get("error")
        if error is not None:
            if missing_ok and "not found" in str(error.get("message", "")).lower():
                return None
            raise RegistrarUnreachable(f"Kamailio refused {method}: {error}")
        return answer.get("result")


def _dumped_records(result: Any) -> list[Any]:
    try:
        for domain in result["Domains"]:
            if domain["Domain"]["Domain"] == TABLE:
                return list(domain["Domain"]["AoRs"])
    except (KeyError, TypeError) as exc:
        raise RegistrarUnreachable(f"Kamailio's ul.dump was not understood: {exc!r}") from exc
    return []


def _registration(aor: str, contact: dict[str, Any], now: datetime) -> Registration:
    expires = contact.get("Expires")
    return Registration(
        aor=aor,
        contact=str(contact["Address"]),
        user_agent=_text(contact.get("User-Agent")),
        expires_at=now + timedelta(seconds=int(expires)) if isinstance(expires, int) else None,
        received=_text(contact.get("Received")),
        instance=_text(contact.get("Instance")),
    )


def _text(value: Any) -> str | None:
    return None if value in (None, "", NOT_SET) else str(value)
