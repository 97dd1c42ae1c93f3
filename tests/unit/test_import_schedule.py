"""When an import job is due: importWS exetime (local time in CIS_IMPORT_TIMEZONE) and iSales hour+minute
(the next such time: today, or tomorrow when already past); otherwise at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.model.job import Schedule, job_id

NOW = datetime(2026, 3, 10, 14, 30, 15, tzinfo=UTC)


def test_no_schedule_is_now() -> None:
    assert Schedule().due_at(NOW, "UTC") == NOW


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", datetime(2026, 3, 11, 8, 0, tzinfo=UTC)),
        ("Asia/Shanghai", datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 3, 11, 7, 0, tzinfo=UTC)),
    ],
)
def test_exetime_is_a_local_time_in_the_configured_zone(tz: str, expected: datetime) -> None:
    assert Schedule(at=datetime(2026, 3, 11, 8, 0)).due_at(NOW, tz) == expected


def test_an_exetime_in_the_past_is_due_at_once() -> None:
    due = Schedule(at=datetime(2020, 1, 1)).due_at(NOW, "UTC")
    assert due < NOW


@pytest.mark.parametrize(
    ("hour_minute", "expected"),
    [
        ((15, 0), datetime(2026, 3, 10, 15, 0, tzinfo=UTC)),  # later today
        ((14, 31), datetime(2026, 3, 10, 14, 31, tzinfo=UTC)),
        ((14, 30), datetime(2026, 3, 11, 14, 30, tzinfo=UTC)),  # this minute has begun: tomorrow
        ((2, 30), datetime(2026, 3, 11, 2, 30, tzinfo=UTC)),  # already past: tomorrow
    ],
)
def test_hour_and_minute_is_the_next_such_time(hour_minute: tuple[int, int], expected: datetime) -> None:
    assert Schedule(hour_minute=hour_minute).due_at(NOW, "UTC") == expected


def test_hour_and_minute_follow_the_zone_across_midnight() -> None:
    # 14:30 UTC is 22:30 in Shanghai: 23:00 is today there, 08:00 is tomorrow there
    assert Schedule(hour_minute=(23, 0)).due_at(NOW, "Asia/Shanghai") == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert Schedule(hour_minute=(8, 0)).due_at(NOW, "Asia/Shanghai") == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


def test_job_ids_are_derived_from_the_request_and_its_tenant() -> None:
    assert job_id("a", "crm", "e-1", 0) == job_id("a", "crm", "e-1", 0)
    assert len({job_id("a", "crm", "e-1", 0), job_id("b", "crm", "e-1", 0), job_id("a", "crm", "e-1", 1)}) == 3


def test_an_unknown_time_zone_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Base'"):
        Settings(import_timezone="Mars/Base")
    assert Settings(import_timezone="Asia/Shanghai").import_timezone == "Asia/Shanghai"
