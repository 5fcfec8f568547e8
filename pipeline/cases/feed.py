"""The internal case feed: what landing forwards to the case stream on `cx.case-events`, one message
per case-feed partition per landing batch. Each message holds case events one per line and, after
them, a line of input marks (how far landing has read its input partitions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import orjson
from pydantic import ValidationError

from pipeline.cases.clock import InputMark
from pipeline.cases.state import CaseEvent
from pipeline.events import Touchpoint

# A case-feed message carries a batch's case events for one partition: one message to send and
# consume instead of one per touchpoint (Faust's per-message fetch, dispatch and ack cost more than
# the message's own work). Well under the broker's 1 MiB message limit.
CASE_PACK_BYTES = 256 * 1024


def case_event(tp: Touchpoint, sentiment: float | None) -> bytes:
    """The internal case-feed message for one validated touchpoint (text scored once, here)."""
    return CaseEvent.of(tp, sentiment).dump()


def pack_case_events(values: Sequence[bytes], limit: int = CASE_PACK_BYTES) -> list[bytes]:
    """Case-feed messages for one partition: the case events one per line (JSON has no raw newline),
    each message at most `limit` bytes (an event longer than that goes alone), in order."""
    packs: list[bytes] = []
    lines: list[bytes] = []
    size = 0
    for value in values:
        if lines and size + len(value) + 1 > limit:
            packs.append(b"\n".join(lines))
            lines, size = [], 0
        lines.append(value)
        size += len(value) + 1
    if lines:
        packs.append(b"\n".join(lines))
    return packs


MARKS_PREFIX = b'{"marks":'


def marks_line(marks: Sequence[InputMark]) -> bytes:
    """The case-feed line that reports landing's input partitions (see `pipeline.cases.clock.InputMark`)."""
    return orjson.dumps({"marks": [[m.source, m.mark.isoformat() if m.mark else None, m.idle] for m in marks]})


def read_case_feed(value: bytes) -> tuple[list[CaseEvent], list[InputMark]]:
    """The case events of one case-feed message (one per line; a message of one event reads too)
    and the input marks it reports, if any (a line of its own, after the events it covers)."""
    events: list[CaseEvent] = []
    marks: list[InputMark] = []
    for line in value.split(b"\n"):
        if line.startswith(MARKS_PREFIX):
            marks += [
                InputMark(source, datetime.fromisoformat(mark) if mark else None, idle)
                for source, mark, idle in orjson.loads(line)["marks"]
            ]
        elif line.strip():
            events.append(read_case_event(line))
    return events, marks


def read_case_events(value: bytes) -> list[CaseEvent]:
    """The case events of one case-feed message."""
    return read_case_feed(value)[0]


def read_case_event(value: bytes) -> CaseEvent:
    """The case event in a case-feed message (also in the older form: the whole touchpoint and its
    sentiment, which a topic may still hold after an upgrade)."""
    try:
        return CaseEvent.model_validate_json(value)
    except ValidationError:
        data = json.loads(value)
        if not isinstance(data, dict) or "event" not in data:
            raise
        return CaseEvent.of(Touchpoint.model_validate(data["event"]), data["sentiment"])
