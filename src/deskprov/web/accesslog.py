"""Logs that never write provisioning tokens or query strings.

aiohttp's default access log prints the whole request line, and its parser's error log quotes it;
for ``/p/<token>/...`` that is the secret URL itself.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMessage

TOKEN_IN_PATH = re.compile(r"^/p/[^/]*")


def redact(path: str) -> str:
    return TOKEN_IN_PATH.sub("/p/<token>", path)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.1fms',
            request.remote,
            request.method,
            redact(request.path),
            response.status,
            response.body_length,
            time * 1000,
        )


class BatchedHandler(logging.handlers.MemoryHandler):
    """Hands access lines to ``target`` in batches: every ``interval`` seconds, or at once when
    ``capacity`` lines wait (and when the logging system shuts down). One write per request was
    about a tenth of a cached phone fetch."""

    def __init__(self, target: logging.Handler, interval: float = 0.5, capacity: int = 512) -> None:
        super().__init__(capacity, flushLevel=logging.ERROR, target=target, flushOnClose=True)
        self.interval = interval
        threading.Thread(target=self._tick, name="access-log", daemon=True).start()

    def _tick(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


def batch_access_log(logger: logging.Logger) -> None:
    """Route ``logger`` (the access log) through a BatchedHandler onto the root's handlers."""
    if any(isinstance(h, BatchedHandler) for h in logger.handlers):
        return
    for target in logging.getLogger().handlers:
        logger.addHandler(BatchedHandler(target))
    logger.propagate = False


class QuietMalformedRequests(logging.Filter):
    """aiohttp logs each request it cannot parse at ERROR with a traceback whose message quotes
    the raw request line: for ``/p/`` that is the provisioning token. Such a request is the
    client's fault and is answered 400; it is logged as one line naming the kind of fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if isinstance(fault, BadHttpMessage):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "malformed request refused: %s", (type(fault).__name__,)
            record.exc_info = record.exc_text = None
        return True


def quiet_malformed_requests() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietMalformedRequests) for f in logger.filters):
        logger.addFilter(QuietMalformedRequests())
