"""Business-time arithmetic: working seconds between two instants, and deadlines in working time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A deadline further away than this means the calendar has (almost) no working time: fail loudly.
_MAX_DAYS = 3660


def _weekday(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower()[:3] in _WEEKDAYS:
        return _WEEKDAYS.index(value.strip().lower()[:3])
    return value


def _days(value: Any) -> Any:
    """Expand 'YYYY-MM-DD..YYYY-MM-DD' ranges so a week-long holiday is one line of YAML."""
    if not isinstance(value, list | tuple | set | frozenset):
        return value
    out: list[Any] = []
    for item in value:
        text = item.isoformat() if isinstance(item, date) else str(item)
        m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*", text)
        if not m:
            out.append(item)
            continue
        first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        if last < first:
            raise ValueError(f"empty date range {text!r}")
        out.extend(first + timedelta(days=i) for i in range((last - first).days + 1))
    return out


Weekday = Annotated[int, BeforeValidator(_weekday)]
Days = Annotated[frozenset[date], BeforeValidator(_days)]


class BusinessHours(BaseModel):
    """Working hours in one time zone, with public holidays and make-up working days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    weekdays: frozenset[Weekday] = frozenset(range(5))
    open: time = time(9, 0)
    close: time = time(18, 0)
    holidays: Days = frozenset()
    # China moves weekends around public holidays (调休): these weekend days are worked.
    workdays: Days = frozenset()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekday_range(cls, value: frozenset[int]) -> frozenset[int]:
        if not value or not all(0 <= d <= 6 for d in value):
            raise ValueError("weekdays must name at least one of mon..sun")
        return value

    @model_validator(mode="after")
    def _open_before_close(self) -> BusinessHours:
        if self.open >= self.close:
            raise ValueError("business hours must open before they close")
        return self

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_workday(self, day: date) -> bool:
        """Whether `day` (a local date) has business hours."""
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def holidays_cover(self, year: int) -> bool:
        """Whether the holiday list names any day of `year` (an empty list covers nothing)."""
        return any(day.year == year for day in self.holidays)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        # Convert to UTC: subtracting two datetimes that share a tzinfo ignores DST changes.
        start = datetime.combine(day, self.open, tzinfo=self._zone).astimezone(UTC)
        end = datetime.combine(day, self.close, tzinfo=self._zone).astimezone(UTC)
        return start, end

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from `start` to `end` (zero if `end` is not after `start`)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self._zone).date()
        last = end.astimezone(self._zone).date()
        while day <= last:
            if self.is_workday(day):
                w_open, w_close = self._window(day)
                lo, hi = max(start, w_open), min(end, w_close)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, span: timedelta) -> datetime:
        """The instant when `span` of business time has elapsed after `start` (in UTC)."""
        start = start.astimezone(UTC)
        if span <= timedelta(0):
            return start
        remaining = span
        day = start.astimezone(self._zone).date()
        for _ in range(_MAX_DAYS):
            if self.is_workday(day):
                w_open, w_close = self._window(day)
                lo = max(start, w_open)
                if lo < w_close:
                    if remaining <= w_close - lo:
                        return lo + remaining
                    remaining -= w_close - lo
            day += timedelta(days=1)
        raise ValueError(f"no business time within {_MAX_DAYS} days of {start.isoformat()}")
