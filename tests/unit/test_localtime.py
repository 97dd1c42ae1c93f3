"""Local times read in a time zone: the instant in UTC and the zone's name; DST gaps and repeated hours
always resolved the same way, with a warning; no zone is UTC; the catalog's zone order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.catalog.model import Campaign, Catalog
from service.model.localtime import read_local, wall_time, zone_error


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Warsaw", datetime(2018, 5, 24, 10, 24, tzinfo=UTC)),  # summer time, UTC+2
        ("Asia/Shanghai", datetime(2018, 5, 24, 4, 24, tzinfo=UTC)),  # UTC+8 all year
        ("UTC", datetime(2018, 5, 24, 12, 24, tzinfo=UTC)),
        (None, datetime(2018, 5, 24, 12, 24, tzinfo=UTC)),  # no zone anywhere: UTC
    ],
)
def test_a_wall_time_is_the_instant_it_names_in_its_zone(zone: str | None, expected: datetime) -> None:
    got = read_local(datetime(2018, 5, 24, 12, 24), zone)
    assert got.at == expected and got.at.tzinfo is UTC
    assert got.zone == (zone or "UTC") and got.warnings == ()


def test_winter_time_in_warsaw_is_utc_plus_one() -> None:
    assert read_local(datetime(2026, 1, 15, 9, 0), "Europe/Warsaw").at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


def test_a_time_the_clocks_skip_is_moved_forward_by_the_gap_with_a_warning() -> None:
    # 2026-03-29: Warsaw's clocks jump from 02:00 to 03:00; 02:30 does not exist and is read as 03:30
    got = read_local(datetime(2026, 3, 29, 2, 30), "Europe/Warsaw", "/records/0/next_call_date")
    assert got.at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert wall_time(got.at, got.zone) == datetime(2026, 3, 29, 3, 30)
    [warning] = got.warnings
    assert (warning.code, warning.path) == ("time.nonexistent", "/records/0/next_call_date")
    assert "2026-03-29 02:30:00 does not exist in Europe/Warsaw" in warning.message
    assert "2026-03-29 03:30:00" in warning.message


def test_a_time_the_clocks_pass_twice_is_the_first_with_a_warning() -> None:
    # 2026-10-25: Warsaw's clocks go back from 03:00 to 02:00; 02:30 happens in summer and in winter time
    got = read_local(datetime(2026, 10, 25, 2, 30), "Europe/Warsaw", "/x")
    assert got.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first: summer time, UTC+2
    [warning] = got.warnings
    assert (warning.code, warning.path) == ("time.ambiguous", "/x")
    assert "occurs twice in Europe/Warsaw" in warning.message


def test_times_around_the_changes_are_plain() -> None:
    assert read_local(datetime(2026, 3, 29, 1, 59), "Europe/Warsaw").warnings == ()
    assert read_local(datetime(2026, 3, 29, 3, 0), "Europe/Warsaw").at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert read_local(datetime(2026, 10, 25, 3, 0), "Europe/Warsaw").warnings == ()


def test_a_time_with_an_offset_keeps_its_instant() -> None:
    given = datetime(2020, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    got = read_local(given, "Asia/Shanghai")
    assert got.at == datetime(2019, 12, 31, 23, 0, tzinfo=UTC) and got.zone == "Asia/Shanghai"


def test_zone_names_are_checked() -> None:
    assert zone_error("Europe/Warsaw") is None and zone_error("UTC") is None
    for bad in ("Mars/Base", "", " Europe/Warsaw", "../etc/passwd", "+08:00"):
        assert zone_error(bad) is not None, bad
    assert zone_error("Mars/Base") == "unknown time zone 'Mars/Base' (an IANA name such as Europe/Warsaw)"


def test_the_catalog_zone_is_the_campaigns_then_the_tenants_then_the_fallback() -> None:
    catalog = Catalog(
        tenants={"pl", "cn"},
        campaigns={
            ("pl", "own"): Campaign("pl", "own", "Own", timezone="Asia/Shanghai"),
            ("pl", "inherits"): Campaign("pl", "inherits", "Inherits"),
            ("cn", "plain"): Campaign("cn", "plain", "Plain"),
        },
        tenant_zones={"pl": "Europe/Warsaw"},
    )
    assert catalog.zone("pl", "own") == "Asia/Shanghai"
    assert catalog.zone("pl", "inherits") == "Europe/Warsaw"
    assert catalog.zone("pl", None) == "Europe/Warsaw"
    assert catalog.zone("cn", "plain") == "UTC"  # nothing set: the service-wide fallback, UTC by default
    catalog.default_zone = "Asia/Shanghai"  # CIS_IMPORT_TIMEZONE
    assert catalog.zone("cn", "plain") == "Asia/Shanghai" and catalog.zone("pl", "inherits") == "Europe/Warsaw"
