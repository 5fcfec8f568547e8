"""Expand the ClickHouse datasource plugin's macros and Grafana's template variables, as Grafana
would before sending a panel's SQL, so the report and the tests run exactly the dashboards' SQL."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time picker and the interval Grafana would choose for it."""

    start: datetime
    end: datetime
    interval_s: int

    @classmethod
    def around(cls, start: datetime, end: datetime, points: int = 120) -> TimeRange:
        """A range with an interval giving about `points` points (rounded to a whole minute, hour or day)."""
        seconds = max((end - start).total_seconds() / points, 1)
        for step in (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400):
            if seconds <= step:
                return cls(start, end, step)
        return cls(start, end, 86400)


def _datetime(value: datetime) -> str:
    return f"toDateTime({int(value.timestamp())})"


def _datetime64(value: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(value.timestamp() * 1000)})"


def _quote(value: str, fmt: str) -> str:
    # As Grafana formats them: singlequote escapes ' with a backslash, sqlstring doubles it.
    escaped = value.replace("'", "\\'") if fmt == "singlequote" else value.replace("'", "''")
    return "'" + escaped + "'"


_MACRO = re.compile(r"\$__(timeFilter_ms|timeFilter|timeInterval_ms|timeInterval|fromTime_ms|toTime_ms|fromTime|toTime|interval_s)(?:\(([^()]*)\))?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def expand(sql: str, time_range: TimeRange, variables: Mapping[str, str | Sequence[str]] | None = None) -> str:
    """The SQL Grafana and the plugin would run: template variables first (Grafana), then macros (plugin)."""
    sql = _VARIABLE.sub(lambda m: _variable(m, variables or {}), sql)
    return _MACRO.sub(lambda m: _macro(m.group(1), m.group(2), time_range), sql)


def _variable(match: re.Match, variables: Mapping[str, str | Sequence[str]]) -> str:
    name = match.group(1) or match.group(3)
    if name not in variables:
        if match.group(3) and name.startswith("__"):
            return match.group(0)  # a plugin macro such as $__timeFilter, expanded next
        raise KeyError(f"no value for template variable ${name}")
    value = variables[name]
    values = [value] if isinstance(value, str) else list(value)
    fmt = match.group(2)
    if fmt in ("singlequote", "sqlstring"):
        return ",".join(_quote(v, fmt) for v in values)
    if fmt in (None, "raw"):
        return ",".join(values)
    raise ValueError(f"variable format {fmt!r} is not used by our dashboards")


def _macro(name: str, argument: str | None, tr: TimeRange) -> str:
    column = (argument or "").strip()
    if name in ("timeFilter", "timeFilter_ms", "timeInterval", "timeInterval_ms") and not column:
        raise ValueError(f"$__{name} needs a column")
    match name:
        case "timeFilter":
            return f"{column} >= {_datetime(tr.start)} AND {column} <= {_datetime(tr.end)}"
        case "timeFilter_ms":
            return f"{column} >= {_datetime64(tr.start)} AND {column} <= {_datetime64(tr.end)}"
        case "timeInterval":
            return f"toStartOfInterval(toDateTime({column}), INTERVAL {tr.interval_s} second)"
        case "timeInterval_ms":
            return f"toStartOfInterval(toDateTime64({column}, 3), INTERVAL {tr.interval_s * 1000} millisecond)"
        case "fromTime":
            return _datetime(tr.start)
        case "toTime":
            return _datetime(tr.end)
        case "fromTime_ms":
            return _datetime64(tr.start)
        case "toTime_ms":
            return _datetime64(tr.end)
        case _:  # interval_s
            return str(tr.interval_s)
