"""The demo's and report's figures: landed counts, and dashboard panels over the whole store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.panels.catalog import panel
from pipeline.panels.run import run_sql, whole_range
from pipeline.store import Store
from pipeline.store.base import scalar
from pipeline.store.rollups import refresh_rollups


@dataclass
class Landed:
    """Distinct rows that reached each table."""

    touchpoints: int
    reviews: int
    dlq: int


def landed(store: Store, since: datetime | None = None) -> Landed:
    """Distinct rows that reached each table (written at or after `since`, the store's clock);
    distinct ids, so a redelivered message is not counted twice."""
    params = {"since": since or datetime(1970, 1, 1, tzinfo=UTC)}
    return Landed(
        touchpoints=int(scalar(store, "SELECT uniqExact(event_id) FROM cx.touchpoints WHERE ingested_at >= {since:DateTime64(3, 'UTC')}", params) or 0),
        reviews=int(scalar(store, "SELECT uniqExact(review_id) FROM cx.reviews WHERE ingested_at >= {since:DateTime64(3, 'UTC')}", params) or 0),
        dlq=int(scalar(store, "SELECT uniqExact(source_topic, kafka_partition, kafka_offset) FROM cx.dlq WHERE received_at >= {since:DateTime64(3, 'UTC')}", params) or 0),
    )


def store_now(store: Store) -> datetime:
    """The store's own clock (rows are stamped with it, so 'landed since' compares like with like)."""
    return scalar(store, "SELECT now64(3, 'UTC')")


# The terminal summary and the Markdown report show these dashboard panels over all the data:
# the same SQL Grafana and the HTML report run, not a copy.
SUMMARY_PANELS = (
    ("cx-overview", "channel_satisfaction"),
    ("cx-latency", "reply_quantiles"),
    ("cx-latency", "breaches_by_rule"),
    ("cx-latency", "notices"),
    ("cx-latency", "source_lateness"),
)


def summary_sections(store: Store) -> list[tuple[str, tuple[list[str], list[tuple]]]]:
    """(title, (columns, rows)) of each summary panel; empty panels that may be empty are left out."""
    refresh_rollups(store)
    time_range = whole_range(store)
    sections = []
    for uid, key in SUMMARY_PANELS:
        shown = panel(uid, key)
        columns, rows = run_sql(store, shown.sql, time_range)
        if rows or shown.expects_rows:
            sections.append((shown.title, (columns, rows)))
    return sections
