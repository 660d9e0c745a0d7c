"""An access log that never writes provisioning tokens or query strings.

aiohttp's default access log prints the whole request line; for ``/p/<token>/...`` that is the
secret URL itself.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

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
