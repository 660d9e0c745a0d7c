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
META_PHONE_SID = re.compile(r"[0-9]{1,64}")  # ASCII digits (str.isdigit takes any script's)
AREA_CODE = re.compile(r"^[0-9]{3}$")
HOST_NAME = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")  # BCP 47, simplified
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FIRMWARE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$")

PASSWORD_MIN = 12
PASSWORD_MAX = 128


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")

# Refused in every text field ("Text, everywhere"): control characters; the line and paragraph
# separators (Yealink's cfg is line-based and some parsers break lines there); non-characters
# (XML 1.0 forbids U+FFFE/U+FFFF, so Polycom and Fanvil files would not parse); surrogates
# (a lone one cannot be encoded as UTF-8 at all). Non-characters of the other planes too.
FORBIDDEN_TEXT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a control character (CR, LF, TAB, NUL, DEL, C1, ...)."""
    return CONTROL_CHARACTERS.search(text) is not None


def text_problem(text: str) -> str | None:
    """Why ``text`` may not be stored in any text field, or None."""
    found = FORBIDDEN_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if CONTROL_CHARACTERS.match(char):
        return "control characters are not allowed"
    if char in "\u2028\u2029":
        return "line and paragraph separators are not allowed"
    if "\ud800" <= char <= "\udfff":
        return "lone surrogates are not allowed"
    return "Unicode non-characters are not allowed"


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable for a SIP user, or None."""
    if password != password.strip():
        return "must not start or end with white space"
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
