"""Business-time arithmetic: weekends, holidays, make-up workdays, time zones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from pipeline.sla import BusinessHours, load_policy

SH = ZoneInfo("Asia/Shanghai")
BH = load_policy().business_hours


def sh(y, mo, d, h=0, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (sh(2025, 3, 10, 10), sh(2025, 3, 10, 12), 2),  # inside one day
        (sh(2025, 3, 10, 7), sh(2025, 3, 10, 20), 9),  # clipped to 09:00-18:00
        (sh(2025, 3, 14, 17), sh(2025, 3, 17, 10, 30), 2.5),  # over a weekend
        (sh(2025, 3, 15, 10), sh(2025, 3, 16, 10), 0),  # all weekend
        (sh(2025, 9, 30, 17), sh(2025, 10, 9, 10), 2),  # National Day week off
        (sh(2025, 10, 10, 17), sh(2025, 10, 13, 10), 11),  # Saturday 2025-10-11 is worked (调休)
        (sh(2025, 3, 10, 12), sh(2025, 3, 10, 11), 0),  # end before start
    ],
)
def test_between(start, end, hours):
    assert BH.between(start, end) == timedelta(hours=hours)


def test_add_skips_nights_weekends_and_holidays():
    assert BH.add(sh(2025, 3, 14, 17), timedelta(hours=4)) == sh(2025, 3, 17, 12)
    assert BH.add(sh(2025, 9, 30, 16), timedelta(hours=4)) == sh(2025, 10, 9, 11)
    assert BH.add(sh(2025, 3, 15, 23), timedelta(hours=1)) == sh(2025, 3, 17, 10)  # starts outside hours
    assert BH.add(sh(2025, 3, 10, 17), timedelta(hours=1)) == sh(2025, 3, 10, 18)  # ends exactly at close


def test_add_and_between_agree():
    for start in (sh(2025, 3, 13, h, m) for h in range(0, 24, 3) for m in (0, 17)):
        for minutes in (1, 59, 240, 480, 541, 3000):
            span = timedelta(minutes=minutes)
            assert BH.between(start, BH.add(start, span)) == span


def test_dst_zone_counts_real_hours():
    # Europe/Berlin springs forward on 2025-03-30; a 00:00-06:00 window that day is 5 real hours.
    bh = BusinessHours(timezone="Europe/Berlin", weekdays=["sun"], open="00:00", close="06:00")
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime(2025, 3, 30, tzinfo=berlin)
    assert bh.between(day, day + timedelta(days=1)) == timedelta(hours=5)


def test_ranges_and_validation():
    bh = BusinessHours(holidays=["2025-05-01..2025-05-05"], workdays=["2025-04-27"])
    assert len(bh.holidays) == 5 and bh.is_workday(datetime(2025, 4, 27).date())
    with pytest.raises(ValidationError):
        BusinessHours(open="18:00", close="09:00")
    with pytest.raises(ValidationError):
        BusinessHours(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        BusinessHours(holidays=["2025-05-05..2025-05-01"])


def test_calendar_without_working_time_fails_loudly():
    bh = BusinessHours(weekdays=["sat"], holidays=["2025-01-01..2040-12-31"])
    with pytest.raises(ValueError):
        bh.add(sh(2025, 3, 10), timedelta(hours=1))


def test_default_calendar_follows_the_state_council_notices():
    bh = BH
    # 2026: Spring Festival 2-15..2-23 with Saturdays 2-14 and 2-28 worked; National Day 10-1..10-7, 10-10 worked.
    assert not bh.is_workday(date(2026, 2, 23)) and bh.is_workday(date(2026, 2, 24))
    assert bh.is_workday(date(2026, 2, 14)) and bh.is_workday(date(2026, 2, 28))
    assert not bh.is_workday(date(2026, 10, 7)) and bh.is_workday(date(2026, 10, 10))
    # 2025: National Day and Mid-Autumn merged, 10-1..10-8; Sunday 9-28 worked.
    assert not bh.is_workday(date(2025, 10, 8)) and bh.is_workday(date(2025, 9, 28))
    assert bh.holidays_cover(2026) and not bh.holidays_cover(2031)
