"""Field rules shared by the API schemas and the services."""

from __future__ import annotations

import re

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
SIP_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EXTENSION = re.compile(r"^[0-9*#]{1,16}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TWILIO_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
PHONE_SID = re.compile(r"^PN[0-9a-f]{32}$")
AREA_CODE = re.compile(r"^[0-9]{3}$")

PASSWORD_MIN = 12
PASSWORD_MAX = 128


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a control character (CR, LF, TAB, NUL, DEL, C1, ...)."""
    return CONTROL_CHARACTERS.search(text) is not None


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable for a SIP user, or None."""
    if len(password) < PASSWORD_MIN:
        return f"must be at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"must be at most {PASSWORD_MAX} characters"
    if not any(c.isupper() for c in password):
        return "must contain an upper-case letter"
    if not any(c.islower() for c in password):
        return "must contain a lower-case letter"
    if not any(c.isdigit() for c in password):
        return "must contain a digit"
    return None
