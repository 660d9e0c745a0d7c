"""MAC addresses: accepted in any case with any separators, always emitted as 12 lower-case hex."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s:.\-]")
_HEX12 = re.compile(r"^[0-9a-f]{12}$")
ZERO = "000000000000"


def normalise_mac(text: str) -> str | None:
    """``00:15:65:4C:4C:26`` -> ``0015654c4c26``; None when it is not a MAC (or all zeros)."""
    mac = _SEPARATORS.sub("", text).lower()
    if not _HEX12.match(mac) or mac == ZERO:
        return None
    return mac
