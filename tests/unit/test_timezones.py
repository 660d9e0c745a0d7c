"""Daylight-saving rules read off the IANA database, checked against the zones' POSIX TZ rules
(the footer of their TZif files) and against the clock itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from deskprov.domain.timezones import Change, is_zone, zone_rules


@pytest.mark.parametrize(
    ("name", "offset", "start", "end"),
    [
        # CET-1CEST,M3.5.0,M10.5.0/3
        ("Europe/Paris", 60, Change(3, 5, 0, 29, 2, 0), Change(10, 5, 0, 25, 3, 0)),
        # EST5EDT,M3.2.0,M11.1.0
        ("America/New_York", -300, Change(3, 2, 0, 8, 2, 0), Change(11, 1, 0, 1, 2, 0)),
        # AEST-10AEDT,M10.1.0,M4.1.0/3 (summer across the new year)
        ("Australia/Sydney", 600, Change(10, 1, 0, 4, 2, 0), Change(4, 1, 0, 5, 3, 0)),
        # <+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45
        ("Pacific/Chatham", 765, Change(9, 5, 0, 27, 2, 45), Change(4, 1, 0, 5, 3, 45)),
    ],
)
def test_rules_match_the_posix_rule(name: str, offset: int, start: Change, end: Change) -> None:
    rules = zone_rules(name, 2026)
    assert (rules.offset_minutes, rules.dst_minutes) == (offset, 60)
    assert (rules.dst_start, rules.dst_end) == (start, end)


@pytest.mark.parametrize(
    ("name", "offset"), [("UTC", 0), ("Asia/Kolkata", 330), ("America/Sao_Paulo", -180)]
)
def test_zones_without_daylight_saving(name: str, offset: int) -> None:
    rules = zone_rules(name, 2026)
    assert rules.offset_minutes == offset and not rules.has_dst and rules.dst_start is None


def test_the_rule_agrees_with_the_clock() -> None:
    """An hour before and after each change, the offset is what the rule says."""
    zone = ZoneInfo("Europe/Paris")
    rules = zone_rules("Europe/Paris", 2026)
    assert rules.dst_start is not None and rules.dst_end is not None
    start = datetime(2026, 3, rules.dst_start.day, rules.dst_start.hour) - timedelta(hours=1)  # CET
    before = start.replace(tzinfo=UTC) - timedelta(minutes=rules.offset_minutes)
    assert before.astimezone(zone).utcoffset() == timedelta(minutes=60)
    assert (before + timedelta(hours=2)).astimezone(zone).utcoffset() == timedelta(minutes=120)


def test_zone_names() -> None:
    assert is_zone("Europe/Paris") and is_zone("UTC")
    for bad in ("Mars/Olympus", "../etc/passwd", "/etc/localtime", " UTC", ""):
        assert not is_zone(bad)
    with pytest.raises(ValueError):
        zone_rules("Mars/Olympus", 2026)
