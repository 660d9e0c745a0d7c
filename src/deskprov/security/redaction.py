"""Secrets cut out of what is logged, recognised by where they stand and by what they look like."""

from __future__ import annotations

import re

# Whatever stands where a provisioning token goes: after any "/p/" (any case, anywhere in the
# path: "//p/", "/./p/", "/admin/../p/" all reach the phone endpoint or nearly).
TOKEN_PLACE = re.compile(r"/[pP]/[^/]*")
# A provisioning token is 54 or 59 base64url characters, an API key "dpk_" and 43 of them: any
# run of 32 or more such characters, wherever it stands ("/healthz/<token>", a file name), is
# taken for one. (Ids, MACs and phone file names are shorter: "0004f249d83f-deskprov" is 21.)
SECRET_LOOKING = re.compile(r"[A-Za-z0-9_-]{32,}")


def redact(text: str) -> str:
    """``text`` (a path, a file name) with every token-looking part cut out."""
    return SECRET_LOOKING.sub("<token>", TOKEN_PLACE.sub("/p/<token>", text))
