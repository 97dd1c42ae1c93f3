"""Local times as the vendors write them (``2018-05-24 12:24``): a wall-clock time read in a time zone.

Every such time is kept as the instant it names, in UTC, together with the IANA name of the zone it
was read in. The zone is the campaign's, else the tenant's, else the service-wide fallback
(``CIS_IMPORT_TIMEZONE``, UTC by default): see :meth:`service.catalog.model.Catalog.zone`.

Daylight saving time, always the same way (``zoneinfo``'s ``fold=0``):

* a time the clocks skip (spring forward: 02:30 on the last Sunday of March in Warsaw) is moved
  forward by the length of the gap (03:30 local, the offset before the change), with a
  ``time.nonexistent`` warning;
* a time the clocks pass twice (fall back: 02:30 on the last Sunday of October) is the first of
  the two (still summer time), with a ``time.ambiguous`` warning.

A time that already carries an offset (``2020-01-01T00:00:00+01:00``) names its instant itself;
it is converted to UTC and the zone is only recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.errors import ErrorDetail

UTC_ZONE = "UTC"
WALL = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A local time read in ``zone``: ``at`` is the instant (aware, UTC)."""

    at: datetime
    zone: str
    warnings: tuple[ErrorDetail, ...] = ()


def zone_error(name: str) -> str | None:
    """Why ``name`` is not a time zone (an IANA name such as ``Europe/Warsaw``); ``None`` when it is."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name such as Europe/Warsaw)"
    return None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    if not name or name != name.strip():
        raise ValueError(name)
    return ZoneInfo(name)


def read_local(wall: datetime, zone: str | None, path: str = "/") -> LocalTime:
    """The instant a wall-clock time names in ``zone`` (``None``: UTC); ``path`` is where the time was
    given, for the warning about a time the clocks skip or pass twice."""
    name = zone or UTC_ZONE
    tz = _zone(name)
    if wall.tzinfo is not None:
        return LocalTime(wall.astimezone(UTC), name)
    first = wall.replace(tzinfo=tz, fold=0)
    at = first.astimezone(UTC)
    shown = at.astimezone(tz).replace(tzinfo=None)
    if shown != wall:
        message = (
            f"{wall:{WALL}} does not exist in {name} (the clocks go forward); read as {shown:{WALL}} ({at:{WALL}} UTC)"
        )
        return LocalTime(at, name, (ErrorDetail("time.nonexistent", path, message),))
    if wall.replace(tzinfo=tz, fold=1).utcoffset() != first.utcoffset():
        message = f"{wall:{WALL}} occurs twice in {name} (the clocks go back); read as the first ({at:{WALL}} UTC)"
        return LocalTime(at, name, (ErrorDetail("time.ambiguous", path, message),))
    return LocalTime(at, name)


def wall_time(at: datetime, zone: str | None) -> datetime:
    """The instant ``at`` (aware) as the wall-clock time of ``zone`` (``None``: UTC), without offset."""
    return at.astimezone(_zone(zone or UTC_ZONE)).replace(tzinfo=None)
