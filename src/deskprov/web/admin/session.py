"""Admin page sessions: a signed cookie naming the API key that signed in, and CSRF tokens.

The cookie holds no secret, only ``<kid>.<payload>.<tag>`` where the payload names the API key id,
its organisation and when the session began, and the tag is an HMAC under a key derived from the
signing key ``kid``. Every request looks the API key up again, so deleting it ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from deskprov.security.keyring import Keys

COOKIE = "deskprov_admin"
LIFETIME = 12 * 3600  # seconds a session lasts, however busy


@dataclass(frozen=True)
class Session:
    key_id: str
    org_id: str
    cookie: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derived(keys: Keys, kid: str, purpose: bytes) -> bytes | None:
    key = keys.signing_key(kid)
    if key is None:
        return None
    return hmac.new(key.material.reveal(), b"deskprov admin " + purpose, hashlib.sha256).digest()


def issue(keys: Keys, key_id: str, org_id: str, now: float | None = None) -> str:
    kid = keys.current_signing.kid
    payload = json.dumps(
        {"k": key_id, "o": org_id, "t": int(time.time() if now is None else now)},
        separators=(",", ":"),
    ).encode()
    secret = _derived(keys, kid, b"session")
    assert secret is not None
    tag = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{kid}.{_b64(payload)}.{_b64(tag)}"


def read(keys: Keys, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie proves, or None (absent, forged, expired, key retired)."""
    if not cookie or len(cookie) > 512:
        return None
    try:
        kid, payload_text, tag_text = cookie.split(".")
        payload, tag = _unb64(payload_text), _unb64(tag_text)
    except ValueError:
        return None
    secret = _derived(keys, kid, b"session")
    if secret is None or not hmac.compare_digest(
        hmac.new(secret, payload, hashlib.sha256).digest(), tag
    ):
        return None
    data = json.loads(payload)
    started = int(data["t"])
    if not 0 <= (time.time() if now is None else now) - started < LIFETIME:
        return None
    return Session(key_id=str(data["k"]), org_id=str(data["o"]), cookie=cookie)


def csrf_token(keys: Keys, session: Session) -> str:
    """The token every form of this session carries; bound to the session cookie."""
    kid = session.cookie.split(".", 1)[0]
    secret = _derived(keys, kid, b"csrf")
    assert secret is not None  # the session was read with this key
    return _b64(hmac.new(secret, session.cookie.encode(), hashlib.sha256).digest()[:18])


def csrf_ok(keys: Keys, session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(keys, session), token or "")
