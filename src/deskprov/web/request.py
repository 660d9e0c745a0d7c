"""Reading a management request at the edge: JSON body and query string into typed models."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from deskprov.appkeys import SETTINGS
from deskprov.domain.rules import text_problem
from deskprov.errors import BadRequest, Invalid, PayloadTooLarge, RequestTimeout
from deskprov.web.errors import invalid_from
from deskprov.web.limits import BODY_TIMEOUT

M = TypeVar("M", bound=BaseModel)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


MAX_DEPTH = 32  # objects and lists inside each other: no body of ours needs more than 3


def text_problems(value: Any, path: str, found: dict[str, str], depth: int = 0) -> None:
    """Every text in the body (keys too, and provider credentials, which no schema describes)
    that breaks the text rules, by field path. A lone surrogate arrives through a JSON escape
    ("\\ud800") and must be refused here: nothing downstream can encode it. A body nested
    deeper than ``MAX_DEPTH`` is refused."""
    if depth > MAX_DEPTH:
        raise BadRequest(f"the body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            found[path or "body"] = problem
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                found[where] = problem
            text_problems(item, where, found, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            text_problems(item, f"{path}.{i}" if path else str(i), found, depth + 1)


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The whole body, refused when over ``limit`` bytes or when it arrives too slowly."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the body is over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {BODY_TIMEOUT:g} seconds") from None
    return b"".join(chunks)


async def read_body(request: web.Request, model: type[M]) -> M:
    raw = await read_capped(request, request.config_dict[SETTINGS].max_body_bytes)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not valid JSON") from None
    except RecursionError:  # (the parser's own limit, ~1,000 levels)
        raise BadRequest(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    found: dict[str, str] = {}
    text_problems(data, "", found)
    if found:
        raise Invalid("some text breaks the text rules", fields=_printable_keys(found))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def _printable_keys(found: dict[str, str]) -> dict[str, str]:
    """Field paths as they can go back in a JSON answer (a key that is itself bad text, with a
    lone surrogate say, cannot be encoded: it is shown escaped)."""
    return {
        (k if text_problem(k) is None else k.encode("utf-8", "backslashreplace").decode()): v
        for k, v in found.items()
    }


def read_query(request: web.Request, model: type[M]) -> M:
    params: dict[str, str] = {}
    found: dict[str, str] = {}
    for key, value in request.query.items():
        if key in params:
            raise Invalid("a query parameter is repeated", fields={key: "given more than once"})
        text_problems({key: value}, "", found)
        params[key] = value
    if found:
        raise Invalid("some text breaks the text rules", fields=_printable_keys(found))
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise invalid_from(exc) from None
