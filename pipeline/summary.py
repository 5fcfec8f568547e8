"""The demo's and report's figures, as SQL on ClickHouse (what an analyst would run)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.store import Store
from pipeline.store.base import scalar


@dataclass
class Landed:
    """Distinct rows that reached each table."""

    touchpoints: int
    reviews: int
    dlq: int


def landed(store: Store) -> Landed:
    """Count what landed; distinct ids, so a redelivered message is not counted twice."""
    return Landed(
        touchpoints=int(scalar(store, "SELECT uniqExact(event_id) FROM cx.touchpoints") or 0),
        reviews=int(scalar(store, "SELECT uniqExact(review_id) FROM cx.reviews") or 0),
        dlq=int(scalar(store, "SELECT uniqExact(source_topic, kafka_partition, kafka_offset) FROM cx.dlq") or 0),
    )


SENTIMENT_BY_CHANNEL = """
SELECT channel, count() AS reviews, round(avg(sentiment), 3) AS mean_sentiment,
       round(countIf(label = 'positive') / count(), 3) AS positive_share
FROM cx.reviews FINAL
GROUP BY channel ORDER BY channel
"""

# First response: the customer's first message on a case -> the first agent reply after it.
FIRST_REPLY_BY_CHANNEL = """
WITH per_case AS (
    SELECT case_id, any(channel) AS channel,
           minIf(ts, kind = 'customer_message') AS asked,
           groupArrayIf(ts, kind = 'agent_reply') AS replies
    FROM cx.touchpoints FINAL
    GROUP BY case_id
    HAVING countIf(kind = 'customer_message') > 0
),
answered AS (
    SELECT channel, asked, arrayMin(arrayFilter(x -> x >= asked, replies)) AS first_reply
    FROM per_case
    WHERE arrayExists(x -> x >= asked, replies)
)
SELECT channel, count() AS cases,
       round(quantile(0.5)(dateDiff('millisecond', asked, first_reply)) / 1000, 1) AS p50_first_reply_s,
       round(quantile(0.9)(dateDiff('millisecond', asked, first_reply)) / 1000, 1) AS p90_first_reply_s
FROM answered
GROUP BY channel ORDER BY channel
"""


def channel_summary(store: Store) -> tuple[list[str], list[tuple]]:
    """Per channel: reviews, mean sentiment, positive share, cases answered, p50/p90 first reply."""
    _, sentiment = store.query(SENTIMENT_BY_CHANNEL)
    _, replies = store.query(FIRST_REPLY_BY_CHANNEL)
    by_channel: dict[str, list] = {}
    for channel, reviews, mean, share in sentiment:
        by_channel.setdefault(channel, [0, None, None, 0, None, None])[0:3] = [reviews, mean, share]
    for channel, cases, p50, p90 in replies:
        by_channel.setdefault(channel, [0, None, None, 0, None, None])[3:6] = [cases, p50, p90]
    columns = ["channel", "reviews", "mean_sentiment", "positive_share", "cases", "p50_first_reply_s", "p90_first_reply_s"]
    return columns, [(c, *v) for c, v in sorted(by_channel.items())]
