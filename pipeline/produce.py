"""Route JSON lines to the input topics: touchpoints by case, reviews by customer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.events import Rejected, parse_review, parse_touchpoint


@dataclass
class Routed:
    """Where a line goes and whether the worker will accept it."""

    topic: str
    key: bytes | None
    value: bytes
    valid: bool


@dataclass
class Fed:
    """What was sent, by sort."""

    touchpoints: int = 0
    reviews: int = 0
    invalid: int = 0
    invalid_reasons: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every line sent."""
        return self.touchpoints + self.reviews + self.invalid


def route(line: str) -> Routed:
    """Pick the topic and key for one line. Lines that are not events still go to the touchpoints
    topic, so the worker dead-letters them with a reason instead of them vanishing here."""
    value = line.encode("utf-8")
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "review_id" in data:
        key = str(data.get("customer_id", "")).encode() or None
        return Routed(REVIEWS, key, value, not isinstance(parse_review(line), Rejected))
    key = str(data.get("case_id", "")).encode() or None if isinstance(data, dict) else None
    return Routed(TOUCHPOINTS, key, value, not isinstance(parse_touchpoint(line), Rejected))


def produce_lines(
    settings: Settings, lines: Iterable[str], on_sent: Callable[[int], None] | None = None
) -> Fed:
    """Send every non-blank line; return the counts (and how many the worker will reject)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        client_id="cx-produce",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        compression_type=None,
    )
    fed = Fed()
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            routed = route(line)
            producer.send(settings.topic(routed.topic), key=routed.key, value=routed.value)
            if not routed.valid:
                fed.invalid += 1
            elif routed.topic == REVIEWS:
                fed.reviews += 1
            else:
                fed.touchpoints += 1
            if on_sent is not None:
                on_sent(1)
        producer.flush()
    finally:
        producer.close()
    return fed
