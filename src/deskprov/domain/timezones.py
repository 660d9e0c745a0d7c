"""A time zone's offset and daylight-saving rule, derived from the IANA database (``zoneinfo``).

Phones take a standard offset and a rule of the form "the last Sunday of March at 02:00" rather
than a zone name, and each vendor writes it its own way. The rule is read off the zone itself:
its transitions in a reference year are found by probing ``utcoffset`` and each one is described
by month, week of the month (5 = the last), weekday and local wall-clock time just before it.
Nothing is typed in by hand, so every zone the database knows works.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Change:
    """When clocks change, in local wall-clock time just before the change."""

    month: int  # 1-12
    week: int  # 1-4: that week's weekday; 5: the last such weekday of the month
    weekday: int  # 0 = Sunday ... 6 = Saturday (POSIX TZ convention)
    day: int  # the day of the month in the reference year
    hour: int
    minute: int


@dataclass(frozen=True)
class ZoneRules:
    name: str
    offset_minutes: int  # standard time, east of UTC positive (Paris 60, New York -300)
    dst_minutes: int = 0  # how far clocks go forward in summer (0: no daylight saving)
    dst_start: Change | None = None
    dst_end: Change | None = None

    @property
    def has_dst(self) -> bool:
        return self.dst_start is not None


def is_zone(name: str) -> bool:
    """True for an IANA zone name the database knows ("Europe/Paris", "UTC")."""
    if not name or name != name.strip() or ".." in name or name.startswith("/"):
        return False
    return name in _zone_names()


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone_rules(name: str, year: int) -> ZoneRules:
    """``name``'s standard offset and daylight-saving rule as they stand in ``year``."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    changes = list(_transitions(zone, year))
    if len(changes) != 2:  # no daylight saving (or a one-off change of offset this year)
        offset = datetime(year, 7, 1, tzinfo=UTC).astimezone(zone).utcoffset()
        winter = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset()
        assert offset is not None and winter is not None
        return ZoneRules(name, _minutes(min(offset, winter) if changes else winter))
    (first_at, before1, after1), (second_at, before2, _) = changes
    # Clocks go forward at the start of summer time, back at its end (the start may come later
    # in the year than the end: the southern hemisphere).
    start, end = (
        ((first_at, before1), (second_at, before2))
        if after1 > before1
        else ((second_at, before2), (first_at, before1))
    )
    standard = min(before1, after1)
    return ZoneRules(
        name,
        _minutes(standard),
        _minutes(abs(after1 - before1)),
        _describe(start[0] + start[1]),
        _describe(end[0] + end[1]),
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds()) // 60


def _transitions(zone: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """Each instant (naive UTC) in ``year`` when ``zone``'s offset changes: (at, before, after)."""
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    step = timedelta(days=1)
    while moment < end:
        following = moment + step
        offset = following.astimezone(zone).utcoffset()
        if offset != previous:
            low, high = moment, following  # the change is in (low, high]: bisect to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            assert previous is not None and offset is not None
            found.append((high.replace(tzinfo=None), previous, offset))
            previous = offset
        moment = following
    return found


def _describe(local: datetime) -> Change:
    """A change at wall-clock time ``local`` as month, week of month, weekday and time."""
    weekday = (local.weekday() + 1) % 7  # Python: Monday = 0; POSIX: Sunday = 0
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    week = 5 if local.day + 7 > days_in_month else (local.day - 1) // 7 + 1
    return Change(local.month, week, weekday, local.day, local.hour, local.minute)
