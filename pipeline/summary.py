"""The demo's and report's figures, as SQL on the analyst views (what an analyst would run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.store import Store
from pipeline.store.base import scalar


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


SENTIMENT_BY_CHANNEL = """
SELECT channel, count() AS reviews, round(avg(sentiment), 3) AS mean_sentiment,
       round(countIf(positive) / count(), 3) AS positive_share
FROM cx.v_reviews
GROUP BY channel ORDER BY channel
"""

# First response per channel, from the per-message waits the case agent wrote.
FIRST_REPLY_BY_CHANNEL = """
SELECT channel, count() AS answered,
       round(quantile(0.5)(wait_ms) / 1000, 1) AS p50_s,
       round(quantile(0.9)(wait_ms) / 1000, 1) AS p90_s
FROM cx.v_responses
WHERE kind = 'first'
GROUP BY channel ORDER BY channel
"""

ALERTS_BY_RULE = """
SELECT rule, countIf(status = 'breach') AS breaches, countIf(status = 'recovery') AS recoveries,
       uniqExactIf(case_id, status = 'breach') AS cases
FROM cx.v_alerts
GROUP BY rule ORDER BY rule
"""


def channel_summary(store: Store) -> tuple[list[str], list[tuple]]:
    """Per channel: reviews, mean sentiment, positive share, first replies, p50/p90 first reply."""
    _, sentiment = store.query(SENTIMENT_BY_CHANNEL)
    _, replies = store.query(FIRST_REPLY_BY_CHANNEL)
    by_channel: dict[str, list] = {}
    for channel, reviews, mean, share in sentiment:
        by_channel.setdefault(channel, [0, None, None, 0, None, None])[0:3] = [reviews, mean, share]
    for channel, cases, p50, p90 in replies:
        by_channel.setdefault(channel, [0, None, None, 0, None, None])[3:6] = [cases, p50, p90]
    columns = ["channel", "reviews", "sentiment", "positive", "answered", "p50 1st reply s", "p90 1st reply s"]
    return columns, [(c, *v) for c, v in sorted(by_channel.items())]


def alert_summary(store: Store) -> tuple[list[str], list[tuple]]:
    """Per SLA rule: breaches, recoveries and cases in breach."""
    return store.query(ALERTS_BY_RULE)


NOTICES_BY_SUBSCRIBER = """
SELECT subscriber, channel, kind, status, count() AS alerts, uniqExact(delivery_id) AS messages,
       round(quantile(0.5)(latency_ms) / 1000, 2) AS p50_s, round(max(latency_ms) / 1000, 2) AS max_s
FROM cx.v_alert_deliveries
GROUP BY subscriber, channel, kind, status ORDER BY subscriber, kind, status
"""


def notice_summary(store: Store) -> tuple[list[str], list[tuple]]:
    """Per subscriber, kind and outcome: alerts covered, messages sent, notifier delay p50/max."""
    return store.query(NOTICES_BY_SUBSCRIBER)
