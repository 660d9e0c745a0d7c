"""Logs that never write provisioning tokens, API keys or query strings.

aiohttp's default access log prints the whole request line, and its parser's error log quotes it;
for ``/p/<token>/...`` that is the secret URL itself.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMessage

from deskprov.logs import json_time
from deskprov.security.redaction import redact


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request, tokens cut out. With an ``AccessLines`` handler on the logger (as
    ``deskprov serve`` sets up) the line is handed to it directly; otherwise it is logged."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self.lines = next((h for h in logger.handlers if isinstance(h, AccessLines)), None)

    @property
    def enabled(self) -> bool:  # (the logger's level still silences it)
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        message = (
            f'{request.remote} "{request.method} {redact(request.path)}" '
            f"{response.status} {response.body_length} {time * 1000:.1f}ms"
        )
        if self.lines is not None:
            self.lines.add(message)
        else:
            self.logger.info("%s", message)


class AccessLines(logging.Handler):
    """The access log of ``deskprov serve``: each line formatted at once (the time to the
    millisecond, the process id) and written with the others every ``interval`` seconds in one
    write to each stream the root logger writes to, never on the event loop's thread.

    Through the logging machinery a line cost ~13 us (a LogRecord, the formatter, and a write and
    flush per record) - a tenth to a quarter of a cached phone fetch. Buffered lines are written
    when the logging system shuts down (``logging.shutdown`` closes every handler)."""

    def __init__(
        self,
        logger_name: str,
        interval: float = 0.5,
        capacity: int = 50_000,
        *,
        as_json: bool = False,
    ) -> None:
        super().__init__()
        self.logger_name = logger_name
        self.as_json = as_json
        self.capacity = capacity  # lines beyond it, within one interval, are dropped (counted)
        self.dropped = 0
        self._lines: list[str] = []
        self._pid = os.getpid()
        self._second = -1
        self._stamp = ""
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_every, args=(interval,), name="access-log", daemon=True
        )
        self._writer.start()

    def add(self, message: str) -> None:
        if len(self._lines) >= self.capacity:
            self.dropped += 1
            return
        self._lines.append(self._line(time.time(), message))

    def _line(self, now: float, message: str) -> str:
        if self.as_json:  # (the logs' JSON shape: see deskprov.logs)
            line = {"time": json_time(now), "level": "INFO", "pid": self._pid}
            line.update(logger=self.logger_name, message=message)
            return json.dumps(line) + "\n"
        second = int(now)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        millis = int((now - second) * 1000)
        return f"{self._stamp},{millis:03d} INFO [{self._pid}] {self.logger_name} {message}\n"

    def emit(self, record: logging.LogRecord) -> None:
        self.add(record.getMessage())

    def _write_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()

    def flush(self) -> None:
        lines, self._lines = self._lines, []  # (a swap: appends on the loop are never lost)
        dropped, self.dropped = self.dropped, 0
        if dropped:
            notice = f"access log: {dropped} lines dropped (over {self.capacity} in one go)"
            lines.append(self._line(time.time(), notice))
        if not lines:
            return
        text = "".join(lines)
        for stream, lock in _streams():
            with lock:  # (the handler's own lock: no line of ours inside one of its records)
                try:
                    stream.write(text)
                    stream.flush()
                except Exception:  # a closed or full stream must not end the writer
                    pass

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def _streams() -> list[tuple[Any, Any]]:
    """The streams the root logger's handlers write to, each with its handler's lock (standard
    error when there is none)."""
    found = [
        (h.stream, h.lock)
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is not None and h.lock is not None
    ]
    return found or [(sys.stderr, _STDERR_LOCK)]


_STDERR_LOCK = threading.Lock()


def batch_access_log(logger: logging.Logger, *, as_json: bool = False) -> None:
    """Give ``logger`` (the access log) an ``AccessLines`` handler, in place of propagating to
    the root logger's handlers."""
    if any(isinstance(h, AccessLines) for h in logger.handlers):
        return
    logger.addHandler(AccessLines(logger.name, as_json=as_json))
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
