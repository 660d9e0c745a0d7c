"""Webhooks from providers (Twilio's voice calls), on a sub-application of their own at
``/hooks``: its error handling is theirs (plain, empty statuses) and costs the phone endpoint
nothing. A request is Twilio's only if its signature verifies: anything else is a bare 403."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiDict

from deskprov.appkeys import SERVICES, SETTINGS
from deskprov.services.routing.twilio import Hook, HookRequest
from deskprov.web.ops import metrics_middleware

log = logging.getLogger(__name__)

PREFIX = "/hooks"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _twilio(hook: Hook) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        answer = await request.config_dict[SERVICES].twilio_voice.answer(
            hook,
            HookRequest(
                account_id=request.match_info["pa"],
                url=request.config_dict[SETTINGS].public_url + request.raw_path,
                form=MultiDict((k, v) for k, v in form.items() if isinstance(v, str)),
                query=request.query,
                signature=request.headers.get("X-Twilio-Signature", ""),
            ),
        )
        if answer is None:
            return web.Response(status=403)
        return web.Response(text=answer, content_type="application/xml", charset="utf-8")

    handle.__name__ = f"twilio_{hook}"
    return handle


@web.middleware
async def hook_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure is a bare status: nothing about it goes back to the caller."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return web.Response(status=exc.status)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.match_info.route.name)
        return web.Response(status=500)


def hooks_app() -> web.Application:
    app = web.Application(middlewares=[metrics_middleware, hook_errors])
    hooks: tuple[Hook, ...] = ("voice", "refer", "next")
    for hook in hooks:
        app.router.add_post(f"/twilio/{{pa}}/{hook}", _twilio(hook), name=f"hooks.twilio.{hook}")
    return app
