"""Route JSON lines to the input topics: touchpoints by case, reviews by customer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Producer

from pipeline.broker.client import client_config
from pipeline.broker.exceptions import BrokerUnavailable
from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.events import Rejected, Review, Touchpoint
from pipeline.events.validate import decode_event, validate_event

# Kafka's default message.max.bytes (1 MiB + record overhead): a longer line is refused at the source.
MAX_MESSAGE_BYTES = 1_048_576
# Delivery reports are served every so many lines: each poll lets go of the interpreter, and in the
# demo's feed (a thread of the worker's process) a poll per line made the feed wait on the worker.
POLL_EVERY = 1000
CONNECT_TIMEOUT = 10.0  # seconds for a broker to answer before anything is sent


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
        key = event_key(data.get("customer_id"))
        return Routed(REVIEWS, key, value, not isinstance(validate_event(text, data, Review), Rejected))
    key = event_key(data.get("case_id")) if isinstance(data, dict) else None
    return Routed(TOUCHPOINTS, key, value, not isinstance(validate_event(text, data, Touchpoint), Rejected))


def event_key(value: object) -> bytes | None:
    """The Kafka key for an event's case or customer id (None when it has none)."""
    # A key that is not even text still must not stop the line: it is dead-lettered downstream.
    return str(value).encode("utf-8", "surrogatepass") if value not in (None, "") else None


def json_lines(data: bytes) -> list[bytes]:
    """The lines of a JSON Lines file: separated by `\\n` alone (a `\\r` before it is dropped), blank
    ones skipped. Not `str.splitlines`: JSON allows U+2028, U+2029, U+0085 and other separators raw
    inside strings, and text pasted from web pages carries them."""
    return [line.removesuffix(b"\r") for line in data.split(b"\n") if line.strip()]


def input_producer(settings: Settings, client_id: str, delivery_timeout: float, linger_ms: int) -> Producer:
    """A librdkafka producer for the input topics, as `cx produce` and `cx ingest` send: acknowledged
    by every replica, keyed as the Java client keys, a message given up after `delivery_timeout` s."""
    return Producer(
        client_config(
            settings.kafka_bootstrap,
            **{
                "client.id": client_id,
                "acks": "all",
                "linger.ms": linger_ms,
                "batch.size": 256 * 1024,
                "message.max.bytes": MAX_MESSAGE_BYTES + 64 * 1024,
                "message.timeout.ms": int(delivery_timeout * 1000),
                "partitioner": "murmur2_random",  # the Java client's key hashing, as aiokafka's and Faust's
                # At most 5 requests in flight, as the Java client and kafka-python. With librdkafka's
                # default (a million) the worker's own sends once waited past their 30 s timeout while
                # the hostile-input test's feed ran: a fast feed may queue too much on the broker.
                "max.in.flight.requests.per.connection": 5,
            },
        )
    )


def produce_lines(
    settings: Settings,
    lines: Iterable[str | bytes],
    on_sent: Callable[[int], None] | None = None,
    delivery_timeout: float = 120.0,
) -> Fed:
    """Send every non-blank line; return the counts (and how many the worker will reject). A line the
    broker has not acknowledged within `delivery_timeout` seconds is reported unsent; no broker
    answering at all raises BrokerUnavailable before any line is read."""
    # librdkafka builds and sends the batches on its own threads, outside the interpreter (the
    # demo's feed shares the worker's process; a pure-Python client would compete with it).
    producer = input_producer(settings, "cx-produce", delivery_timeout, linger_ms=20)
    try:
        producer.list_topics(timeout=CONNECT_TIMEOUT)
    except KafkaException as exc:
        raise BrokerUnavailable(f"no Kafka broker answered at {settings.kafka_bootstrap} within {CONNECT_TIMEOUT:.0f}s") from exc
    fed = Fed()
    acked: dict[int, bool] = {}  # line number -> the broker acknowledged it (filled by delivery reports)
    sent: list[tuple[int, Routed]] = []

    def report(number: int) -> Callable[[KafkaError | None, object], None]:
        def delivered(error: KafkaError | None, _message: object) -> None:
            acked[number] = error is None  # the unsent are reported by line number, not logged one by one

        return delivered

    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        routed = route(line)
        if len(routed.value) > MAX_MESSAGE_BYTES:
            fed.too_large.append(number)
            continue
        while True:
            try:
                producer.produce(settings.topic(routed.topic), routed.value, routed.key, on_delivery=report(number))
                break
            except BufferError:  # librdkafka's queue is full: let it send, then try again
                producer.poll(0.05)
        sent.append((number, routed))
        if len(sent) % POLL_EVERY == 0:
            producer.poll(0)  # serve the delivery reports of what was sent meanwhile
        if on_sent is not None:
            on_sent(1)
    producer.flush()
    for number, routed in sent:
        # A record the broker never acknowledged (delivery timeout) is not fed: say so, never count it.
        if not acked.get(number, False):
            fed.unsent.append(number)
        elif not routed.valid:
            fed.invalid += 1
        elif routed.topic == REVIEWS:
            fed.reviews += 1
        else:
            fed.touchpoints += 1
    return fed
