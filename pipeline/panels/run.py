"""Run a panel's SQL against the store, as Grafana would with the dashboard's variables set to All."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from pipeline.events.models import Channel
from pipeline.panels.catalog import ALL_DEPARTMENTS
from pipeline.panels.macros import TimeRange, expand
from pipeline.store import Store


def all_selected(case: str = "") -> dict[str, str | list[str]]:
    """Template variables as a dashboard opens: every channel, every department, no case."""
    return {"channel": [c.value for c in Channel], "department": ALL_DEPARTMENTS, "case": case}


def run_sql(
    store: Store, sql: str, time_range: TimeRange, variables: Mapping[str, str | Sequence[str]] | None = None
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of `sql` once its macros and variables are expanded."""
    return store.query(expand(sql, time_range, all_selected() if variables is None else variables))


def whole_range(store: Store) -> TimeRange:
    """From the first event to now (or the last event, if later): everything in the store."""
    _, ((first, last, now),) = store.query("SELECT min(ts), max(ts), now64(3, 'UTC') FROM cx.v_touchpoints")
    start = first if first is not None and first.year > 1970 else now - timedelta(days=1)
    # From the start of the first event's hour: the hour rollups' first bucket begins there, and a
    # range starting later would leave it out (the summary once missed the first hour's breaches).
    start = start.replace(minute=0, second=0, microsecond=0)
    end = max(now, last) if last is not None else now
    return TimeRange.around(start, end + timedelta(minutes=1))
