"""What lands in ClickHouse and on output topics for a batch of input messages (no Kafka, no I/O).

The stream hands over raw messages with their Kafka position; this module validates, scores and
shapes rows, so the same code is tested directly and runs inside the Faust agents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar


from pipeline.cases.clock import InputMarks
from pipeline.cases.feed import case_event
from pipeline.cases.rows import LateEvent, ms
from pipeline.events import Kind, Rejected, Review, Touchpoint, parse_review, parse_touchpoint
from pipeline.identity import FirstUse, FirstUses, content_hash, nothing_landed
from pipeline.store.tables import DLQ, EVENT_IDS, LATE_EVENTS, REVIEWS, TOUCHPOINTS
from pipeline.text import TextResult, analyze_many, mask_pii


E = TypeVar("E", Touchpoint, Review)


class Message(NamedTuple):
    """One consumed Kafka message: its value and where it came from.

    A named tuple, not a dataclass: each batch is pickled to a landing process, and a slotted
    dataclass pickles through Python code per message (more than twice as slow)."""

    value: bytes
    topic: str
    partition: int
    offset: int


def wants_more(taken: int, unread: int, batch_size: int, catch_up_batch_size: int) -> bool:
    """Whether a batch of `taken` messages waits for one more take (of up to `batch_size`) before it lands.

    Only while the rest of a `catch_up_batch_size` batch is already waiting (`unread` on the batch's
    partitions: a backlog, not a burst) and one more take still fits: a backlog lands in fewer,
    larger batches, while a live stream's batches stay what one take gathered (`batch_size` and
    whatever already waited, or what came within the flush window), as prompt as before."""
    return unread >= catch_up_batch_size - taken and taken + batch_size <= catch_up_batch_size


@dataclass
class Landing:
    """Rows per ClickHouse table and messages per output topic, for one batch."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    scored: list[dict[str, Any]] = field(default_factory=list)
    case_feed: list[tuple[bytes, bytes]] = field(default_factory=list)

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Queue a row for `table`."""
        self.rows.setdefault(table, []).append(row)


def _utc(ts: datetime | None) -> datetime | None:
    # One row convention for every table and backend: aware datetimes in UTC; each store converts.
    return ts.astimezone(UTC) if ts else None


def _position(msg: Message) -> dict[str, Any]:
    return {"kafka_topic": msg.topic, "kafka_partition": msg.partition, "kafka_offset": msg.offset}


# The DLQ topic message wraps the payload in JSON (escaping grows it): above this it is cut, so the
# dead letter itself stays under the broker's message limit. The table row keeps the whole payload.
DLQ_TOPIC_PAYLOAD_BYTES = 512 * 1024


def dead_letter(msg: Message, rejected: Rejected) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DLQ topic message (raw payload, for replay) and the DLQ table row (PII masked)."""
    position = {"source_topic": msg.topic, "kafka_partition": msg.partition, "kafka_offset": msg.offset}
    topic_message = {**position, "reason": rejected.reason, "payload": rejected.raw}
    size = len(rejected.raw.encode("utf-8"))
    if size > DLQ_TOPIC_PAYLOAD_BYTES:
        cut = rejected.raw.encode("utf-8")[:DLQ_TOPIC_PAYLOAD_BYTES].decode("utf-8", "ignore")
        topic_message |= {"payload": cut, "payload_bytes": size, "payload_truncated": True}
    row = {**position, "reason": mask_pii(rejected.reason), "payload": mask_pii(rejected.raw)}
    return topic_message, row


def touchpoint_row(tp: Touchpoint, msg: Message, text: str, sentiment: float | None) -> dict[str, Any]:
    """A `cx.touchpoints` row."""
    return {
        "event_id": tp.event_id,
        "case_id": tp.case_id,
        "customer_id": tp.customer_id,
        "channel": tp.channel.value,
        "kind": tp.kind.value,
        "actor": tp.actor.value,
        "agent_id": tp.agent_id or "",
        "department": tp.department or "",
        "ts": _utc(tp.ts),
        "priority": tp.priority.value,
        "promised_by": _utc(tp.promised_by),
        "text": text,
        "sentiment": sentiment,
        "attrs": json.dumps(tp.attrs, ensure_ascii=False, sort_keys=True),
        **_position(msg),
    }


def review_row(review: Review, msg: Message, result: TextResult) -> dict[str, Any]:
    """A `cx.reviews` row with its text analytics."""
    return {
        "review_id": review.review_id,
        "customer_id": review.customer_id,
        "case_id": review.case_id or "",
        "channel": review.channel.value,
        "rating": review.rating,
        "ts": _utc(review.ts),
        "source": review.source,
        "text": result.text,
        "sentiment": round(result.sentiment, 6),
        "label": result.label,
        "tokens": result.tokens,
        "keywords": result.keywords,
        "aspects": [(a.aspect, a.polarity) for a in result.aspects],
        **_position(msg),
    }


def scored_message(source: str, source_id: str, case_id: str | None, ts: datetime, result: TextResult) -> dict:
    """The `cx.scored` message for one analysed text."""
    return {
        "source": source,
        "id": source_id,
        "case_id": case_id,
        "ts": ts.isoformat(),
        **result.model_dump(mode="json"),
    }


def input_source(row: dict[str, Any]) -> str:
    """The input partition a landed row came from, as the case clock names it ("cx.touchpoints:3")."""
    return f"{row['kafka_topic']}:{row['kafka_partition']}"


def note_input_times(landing: Landing, marks: InputMarks) -> None:
    """Note a landed batch's touchpoint times in `marks`, in order: each row gets `behind_ms` (how far
    it arrived behind its input partition's newest event), odd times (`InputMarks`) are added to the
    batch as `cx.late_events` rows."""
    rows = landing.rows.get(TOUCHPOINTS, [])
    seen = marks.observe((input_source(r), r["ts"], r) for r in rows)
    for row, behind in zip(rows, seen.behind):
        row["behind_ms"] = ms(behind)
    for row, reason, against in seen.odd:
        landing.add(LATE_EVENTS, odd_time_row(row, reason, against))


def odd_time_row(row: dict[str, Any], reason: str, against: datetime) -> dict[str, Any]:
    """The `cx.late_events` row of a landed touchpoint with an odd time (it still updates its case)."""
    attrs = json.loads(row["attrs"])
    source = attrs.get("source") if isinstance(attrs, dict) else None
    source = source if isinstance(source, str) and source else None
    return LateEvent.judged(row["event_id"], row["case_id"], source, row["channel"], row["ts"], against, reason).row()


def _refuse(landing: Landing, msg: Message, rejected: Rejected) -> None:
    topic_message, row = dead_letter(msg, rejected)
    landing.dead_letters.append(topic_message)
    landing.add(DLQ, row)


def _one_content_per_id(
    landing: Landing, valid: list[tuple[Message, E]], table: str, id_of: Callable[[E], str], first_uses: FirstUses
) -> list[tuple[Message, E]]:
    """The events whose id is new or names the same content (each recorded in `cx.event_ids`); an id
    reused for other content (here, or already landed in `table`) is refused with the first use in the reason."""
    seen = dict(first_uses(table, sorted({id_of(e) for _, e in valid}))) if valid else {}
    kept = []
    for msg, event in valid:
        fingerprint, event_id = content_hash(event), id_of(event)
        first = seen.setdefault(event_id, FirstUse(fingerprint, msg.topic, msg.partition, msg.offset))
        if first.content_hash == fingerprint:
            kept.append((msg, event))
            landing.add(EVENT_IDS, {"source": table, "id": event_id, "content_hash": fingerprint, **_position(msg)})
        else:
            reason = f"id {event_id!r} already names a different event ({first.describe()}): one id, one event"
            _refuse(landing, msg, Rejected(msg.value.decode("utf-8"), reason))
    return kept


def land_touchpoints(messages: Sequence[Message], first_uses: FirstUses = nothing_landed) -> Landing:
    """Validate touchpoints, score customer messages, shape rows; invalid ones become dead letters."""
    landing = Landing()
    valid: list[tuple[Message, Touchpoint]] = []
    for msg in messages:
        parsed = parse_touchpoint(msg.value)
        if isinstance(parsed, Rejected):
            _refuse(landing, msg, parsed)
        else:
            valid.append((msg, parsed))
    kept = _one_content_per_id(landing, valid, TOUCHPOINTS, lambda tp: tp.event_id, first_uses)
    # Only customer words carry the customer's mood; agent texts are stored masked but not scored.
    to_score = [tp for _, tp in kept if tp.kind is Kind.customer_message and tp.text]
    results = dict(zip((tp.event_id for tp in to_score), analyze_many([tp.text for tp in to_score])))
    for msg, tp in kept:
        result = results.get(tp.event_id)
        if result is not None:
            landing.scored.append(scored_message("touchpoint", tp.event_id, tp.case_id, tp.ts, result))
        text = result.text if result is not None else (mask_pii(tp.text) if tp.text else "")
        sentiment = result.sentiment if result else None
        landing.add(TOUCHPOINTS, touchpoint_row(tp, msg, text, sentiment))
        landing.case_feed.append((tp.case_id.encode(), case_event(tp, sentiment)))
    return landing


def land_reviews(messages: Sequence[Message], first_uses: FirstUses = nothing_landed) -> Landing:
    """Validate and analyse reviews; invalid ones become dead letters."""
    landing = Landing()
    valid: list[tuple[Message, Review]] = []
    for msg in messages:
        parsed = parse_review(msg.value)
        if isinstance(parsed, Rejected):
            _refuse(landing, msg, parsed)
        else:
            valid.append((msg, parsed))
    kept = _one_content_per_id(landing, valid, REVIEWS, lambda r: r.review_id, first_uses)
    results = analyze_many([r.text for _, r in kept])
    for (msg, review), result in zip(kept, results):
        landing.add(REVIEWS, review_row(review, msg, result))
        landing.scored.append(scored_message("review", review.review_id, review.case_id, review.ts, result))
    return landing
