"""The benchmark's baseline: a bare aiohttp app answering every GET with a constant body."""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    port, size = int(sys.argv[1]), int(sys.argv[2])
    body = b"x" * size

    async def constant(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/{tail:.*}", constant)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
