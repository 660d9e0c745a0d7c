"""Admin page session cookies and CSRF tokens.

The cookie holds the session's random secret (``services.sessions`` keeps its digest). Each
form carries a CSRF token derived from that secret: a page of another site can neither read the
HttpOnly cookie nor compute the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from deskprov.services.sessions import LIFETIME as SESSION_LIFETIME

COOKIE = "deskprov_admin"
LIFETIME = int(SESSION_LIFETIME.total_seconds())  # the cookie's max-age


@dataclass(frozen=True)
class Session:
    cookie: str


def csrf_token(session: Session) -> str:
    """The token every form of this session carries."""
    tag = hmac.new(session.cookie.encode(), b"deskprov admin csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(tag[:18]).decode("ascii")


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(session), token or "")
