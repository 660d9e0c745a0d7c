"""The application's error tree, documented in one place.

Services raise these; ``deskprov.web.errors`` maps them to the HTTP contract by walking the class
hierarchy. This module imports nothing internal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dependent:
    """Something that still uses a resource whose delete was refused."""

    type: str
    id: str


class AppError(Exception):
    """Base of every error a client may see. ``code`` is the contract's error code."""

    code = "internal_error"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class BadRequest(AppError):
    """The body is not JSON or not an object, or a query value is malformed."""

    code = "bad_request"


class Unauthorized(AppError):
    """No API key, or one that is unknown."""

    code = "unauthorized"


class Forbidden(AppError):
    """The caller's role may not do this."""

    code = "forbidden"


class NotFound(AppError):
    """No such resource in the caller's organisation (other organisations' ids included)."""

    code = "not_found"


class Conflict(AppError):
    """A unique field is taken, or the resource's state forbids the change."""

    code = "conflict"


class InUse(AppError):
    """A delete refused because other resources still use this one."""

    code = "in_use"

    def __init__(self, message: str, dependents: Sequence[Dependent]) -> None:
        super().__init__(message)
        self.dependents = list(dependents)


class Invalid(AppError):
    """A field is missing, unknown, of the wrong type or out of range."""

    code = "validation_error"


class Unsupported(AppError):
    """The provider type cannot do this (for example SIP on ``meta``)."""

    code = "unsupported_by_provider"


class PayloadTooLarge(AppError):
    """The body is over the size limit."""

    code = "payload_too_large"


class RequestTimeout(AppError):
    """The client took too long to send its request body."""

    code = "request_timeout"


class RateLimited(AppError):
    """Too many failed attempts from one address."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderError(AppError):
    """The provider's API failed; nothing was changed locally. ``ambiguous``: the request may
    have been carried out all the same (it timed out, or the connection dropped after sending)."""

    code = "provider_error"

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous
