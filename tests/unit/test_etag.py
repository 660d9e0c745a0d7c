"""If-None-Match as phones and proxies send it."""

from __future__ import annotations

import pytest

from deskprov.services.phone import etag_matches

TAG = '"0123456789abcdef0123456789abcdef"'


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (TAG, True),
        (f"W/{TAG}", True),
        (f'"other", {TAG}', True),
        (f' "other" ,W/{TAG} ', True),
        ("*", True),
        ('"other"', False),
        (TAG[:-2] + '"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert etag_matches(header, TAG) is matches
