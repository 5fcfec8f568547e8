"""Route JSON lines to the input topics: touchpoints by case, reviews by customer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.events import Rejected, Review, Touchpoint
from pipeline.events.validate import decode_event, validate_event

# Kafka's default message.max.bytes (1 MiB + record overhead): a longer line is refused at the source.
MAX_MESSAGE_BYTES = 1_048_576


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
    too_large: list[int] = field(default_factory=list)  # line numbers (1-based) no broker would take
    unsent: list[int] = field(default_factory=list)  # line numbers the broker did not acknowledge

    @property
    def total(self) -> int:
        """Every line sent."""
        return self.touchpoints + self.reviews + self.invalid


def route(line: str | bytes) -> Routed:
    """Pick the topic and key for one line. Lines that are not events (not even UTF-8) still go to
    the touchpoints topic, byte for byte, so the worker dead-letters them with a reason."""
    value = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    decoded = decode_event(value)  # decoded once: the topic, the key and the verdict all come from it
    if isinstance(decoded, Rejected):
        return Routed(TOUCHPOINTS, None, value, False)
    text, data = decoded
    if isinstance(data, dict) and "review_id" in data:
        key = _key(data.get("customer_id"))
        return Routed(REVIEWS, key, value, not isinstance(validate_event(text, data, Review), Rejected))
    key = _key(data.get("case_id")) if isinstance(data, dict) else None
    return Routed(TOUCHPOINTS, key, value, not isinstance(validate_event(text, data, Touchpoint), Rejected))


def _key(value: object) -> bytes | None:
    # A key that is not even text still must not stop the line: it is dead-lettered downstream.
    return str(value).encode("utf-8", "surrogatepass") if value not in (None, "") else None


def produce_lines(
    settings: Settings, lines: Iterable[str | bytes], on_sent: Callable[[int], None] | None = None
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
        max_request_size=MAX_MESSAGE_BYTES + 64 * 1024,
    )
    fed = Fed()
    sent = []  # (delivery future, line number, routed): counted once the broker acknowledged it
    try:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            routed = route(line)
            if len(routed.value) > MAX_MESSAGE_BYTES:
                fed.too_large.append(number)
                continue
            sent.append((producer.send(settings.topic(routed.topic), key=routed.key, value=routed.value), number, routed))
            if on_sent is not None:
                on_sent(1)
        producer.flush()
    finally:
        producer.close()
    for future, number, routed in sent:
        # A record the broker never acknowledged (delivery timeout) is not fed: say so, never count it.
        if not future.succeeded():
            fed.unsent.append(number)
        elif not routed.valid:
            fed.invalid += 1
        elif routed.topic == REVIEWS:
            fed.reviews += 1
        else:
            fed.touchpoints += 1
    return fed
