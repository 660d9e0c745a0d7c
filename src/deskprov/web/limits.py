"""What one client may cost the server: request sizes and times, and per-address limits on
failed attempts (bad API keys, bad provisioning tokens)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

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
