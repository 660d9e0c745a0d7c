"""API keys: random, shown once, stored as a SHA-256 digest.

Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force. The digest is
looked up through a unique index, so no comparison of secrets happens in Python.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "dpk_"


def new_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(text: str) -> bool:
    return text.startswith(PREFIX) and 20 <= len(text) <= 100
