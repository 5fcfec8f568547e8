"""What an ingest request carries and what becomes of each event in it (pure: no I/O).

A body is one JSON object, a JSON array of objects, or NDJSON (one object per line). Each event is
checked with the same models and reasons as the worker's (`pipeline.events.validate`): an accepted
event goes to its topic keyed as `cx produce` keys it; a rejected one goes there too, byte for byte,
so the worker dead-letters it with the same reason (it reaches `cx.dlq`, nothing disappears), and
the response says why at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.events import Rejected, Review, Touchpoint
from pipeline.events.validate import decode_event, validate_event
from pipeline.produce import MAX_MESSAGE_BYTES, event_key, json_lines

Kind = Literal["touchpoints", "reviews"]
TOPICS: dict[Kind, str] = {"touchpoints": TOUCHPOINTS, "reviews": REVIEWS}


@dataclass(frozen=True)
class Event:
    """One event of a request, as it goes to Kafka, and the edge's verdict."""

    index: int  # 0-based position in the request
    value: bytes
    key: bytes | None
    reason: str | None  # None: accepted
    sendable: bool = True  # False: no broker would take it (the sender keeps it; the response says why)

    @property
    def accepted(self) -> bool:
        """Whether the worker will land it (otherwise it dead-letters it with `reason`)."""
        return self.reason is None


def split_body(body: bytes) -> list[bytes]:
    """The events of a body: a JSON array's items, a single JSON document, or NDJSON lines."""
    stripped = body.strip()
    if not stripped:
        return []
    if stripped[:1] in (b"[", b"{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None  # not one document: NDJSON (or broken; each line then says why)
        else:
            if isinstance(data, list):
                return [json.dumps(item, ensure_ascii=False).encode("utf-8") for item in data]
            return [stripped]
    return json_lines(body)


def judge(kind: Kind, index: int, value: bytes) -> Event:
    """An event's key and verdict, as the worker would give it."""
    if len(value) > MAX_MESSAGE_BYTES:
        return Event(index, b"", None, f"larger than the broker's message limit ({len(value):,} bytes)", sendable=False)
    decoded = decode_event(value)
    if isinstance(decoded, Rejected):
        return Event(index, value, None, decoded.reason)
    text, data = decoded
    model = Touchpoint if kind == "touchpoints" else Review
    verdict = validate_event(text, data, model)
    key_field = "case_id" if kind == "touchpoints" else "customer_id"
    key = event_key(data.get(key_field)) if isinstance(data, dict) else None
    return Event(index, value, key, verdict.reason if isinstance(verdict, Rejected) else None)


def judge_body(kind: Kind, body: bytes) -> list[Event]:
    """Every event of a request body, judged."""
    return [judge(kind, index, value) for index, value in enumerate(split_body(body))]
