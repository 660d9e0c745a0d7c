"""One table from the error tree to the HTTP contract, and the middleware that applies it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from deskprov import errors
from deskprov.problems import log_failure

log = logging.getLogger(__name__)

TARGET_TAGS = {"phone_number", "channel", "agent", "sip_user", "team", "queue"}

STATUS: dict[type[errors.AppError], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InUse: 409,
    errors.RequestTimeout: 408,
    errors.PayloadTooLarge: 413,
    errors.Invalid: 422,
    errors.Unsupported: 422,
    errors.RateLimited: 429,
    errors.ProviderError: 502,
}


def status_of(exc: errors.AppError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(exc: errors.AppError) -> web.Response:
    detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.fields:
        detail["fields"] = exc.fields
    if isinstance(exc, errors.InUse):
        detail["dependents"] = [{"type": d.type, "id": d.id} for d in exc.dependents]
    response = web.json_response({"error": detail}, status=status_of(exc))
    if isinstance(exc, errors.RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def invalid_from(exc: ValidationError) -> errors.Invalid:
    """A pydantic failure as our ``Invalid``, naming each offending field."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err["loc"]]
        # A discriminated union puts the tag it tried into the location: drop it.
        if len(parts) >= 2 and parts[0] == "target" and parts[1] in TARGET_TAGS:
            del parts[1]
        path = ".".join(parts) or "body"
        if err["type"] == "extra_forbidden":
            why = "unknown field"
        elif err["type"] == "missing":
            why = "required"
        elif err["type"] == "value_error" and "error" in err.get("ctx", {}):
            why = str(err["ctx"]["error"])  # our own rule's sentence, without "Value error, "
        else:
            why = err["msg"]
        fields.setdefault(path, why)
    return errors.Invalid("some fields are not valid", fields=fields)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Contract errors as JSON; unexpected ones logged with a traceback and answered bare.
    (The phone endpoint and the probes run without it: see ``web.guard``.)"""
    try:
        return await handler(request)
    except errors.AppError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return error_response(errors.PayloadTooLarge("the body is larger than 1 MiB"))
    except web.HTTPException as exc:
        if request.path.startswith("/api/") and exc.status in (404, 405):
            code = "not_found" if exc.status == 404 else "method_not_allowed"
            return web.json_response(
                {"error": {"code": code, "message": exc.reason}}, status=exc.status
            )
        raise
    except Exception as exc:
        log_failure(log, exc, f"{request.method} {request.match_info.route.name}")
        if not request.path.startswith("/api/"):
            return web.Response(status=500)
        return web.json_response(
            {"error": {"code": "internal_error", "message": "internal error"}}, status=500
        )
