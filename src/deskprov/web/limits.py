"""What one client may cost the server: request sizes and times, and limits on failed attempts
(bad API keys per address and per key prefix, bad provisioning tokens per address). Which
address a request comes from: the TCP peer, or behind a trusted proxy what it forwarded."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from deskprov.security.apikeys import looks_like_key

# Passed to aiohttp's request handler by `deskprov serve` and by the tests' server.
HTTP_LIMITS: dict[str, Any] = {
    # A connection must deliver a whole request head within this many seconds of opening (or of
    # its previous response); a trickle of bytes does not extend it (slowloris). Phones fetch a
    # few files and go quiet for an hour, so idle keep-alive connections are not worth holding.
    "keepalive_timeout": 15.0,
    "max_line_size": 4096,  # the request line, so the URL: longer is a 400
    "max_field_size": 8190,  # one header line: longer is a 400
    "max_headers": 64,
}
# Seconds a client may take to send a request body once its head has arrived.
BODY_TIMEOUT = 30.0


class FailureLimiter:
    """Blocks an address once it failed ``limit`` times within ``window`` seconds: its next
    attempt (the one over the limit) is refused.

    Only failures are counted, so valid traffic from a busy address is never limited. The table
    of addresses is bounded; the least recently failing addresses are forgotten first.
    """

    def __init__(
        self,
        limit: int = 100,
        window: float = 60.0,
        *,
        max_addresses: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._max = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not blocked."""
        stamps = self._failures.get(address)
        if stamps is None:
            return None
        now = self._clock()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[address]
            return None
        if len(stamps) < self.limit:
            return None
        return max(1, int(stamps[0] + self.window - now + 0.999))

    def fail(self, address: str) -> None:
        stamps = self._failures.pop(address, None) or deque(maxlen=self.limit + 1)
        stamps.append(self._clock())
        self._failures[address] = stamps
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)


class KeyFailures:
    """Failed API-key attempts (API and admin sign-in), limited per address and, separately,
    per key prefix (the same wrong key from many addresses). Only failures are counted and only
    failures are refused: a valid key is checked first and always passes, so an address (a
    reverse proxy, an office) that sent bad keys never locks out the good ones behind it."""

    PREFIX = 12  # "dpk_" and 8 characters

    def __init__(self, limit: int = 100, window: float = 60.0) -> None:
        self.by_address = FailureLimiter(limit, window)
        self.by_prefix = FailureLimiter(limit, window)

    def failed(self, address: str, key: str) -> int | None:
        """Count a failed attempt; the seconds to wait when this one is over a limit. Only a
        value shaped like an API key is an attempt (anything else could never be one, and is
        refused without the database)."""
        if not looks_like_key(key):
            return None
        limiters = [(self.by_address, address), (self.by_prefix, key[: self.PREFIX])]
        waits = [w for limiter, who in limiters if (w := limiter.retry_after(who)) is not None]
        for limiter, who in limiters:
            limiter.fail(who)
        return max(waits) if waits else None


class ClientAddresses:
    """The address a request comes from: the TCP peer, unless the peer is one of the trusted
    proxies; then the nearest address in ``X-Forwarded-For`` that is not a trusted proxy (the
    entries to its left are whatever the client wrote, so they are never taken)."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        self._is_proxy: dict[str, bool] = {}

    def of(self, request: web.BaseRequest) -> str:
        peer = request.remote or "unknown"
        if not self._networks or not self.is_proxy(peer):
            return peer
        hops = [
            h.strip()
            for line in request.headers.getall("X-Forwarded-For", ())
            for h in line.split(",")
        ]
        for hop in reversed(hops):
            if not self.is_proxy(hop):
                return hop if _is_address(hop) else peer
        return peer

    def is_proxy(self, address: str) -> bool:
        known = self._is_proxy.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
                known = any(ip in network for network in self._networks)
            except ValueError:
                known = False
            if len(self._is_proxy) > 10_000:
                self._is_proxy.clear()
            self._is_proxy[address] = known
        return known


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
