"""Output rows: `cx.responses`, `cx.alerts` and `cx.cases` (columns as in schemas/clickhouse/002_cases.sql)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache, lru_cache
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel

from pipeline.cases.state import CaseEvent, CaseState, Frozen
from pipeline.events.models import Channel, Priority
from pipeline.sla.policy import Rule

# Fixed namespace: alert ids must be identical across workers, restarts and replays.
_ALERT_NS = uuid.UUID("6f1c1a52-3f0e-4f55-9a57-1d6c2f0c8e11")


def ms(span: timedelta) -> int:
    """Whole milliseconds in a span (the unit of every *_ms column)."""
    return span // timedelta(milliseconds=1)


# A case's log is folded again on every event, asking for the same ids each time.
@lru_cache(maxsize=1 << 16)
def alert_id(case_id: str, rule: Rule | str, deadline: datetime) -> str:
    """Deterministic id of the breach of `rule` at `deadline` on a case (shared by its recovery)."""
    instant = deadline.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(uuid.uuid5(_ALERT_NS, f"{case_id}|{Rule(rule).value}|{instant}"))


@cache
def _enum_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` that may hold an Enum (alone or in a union such as `X | None`)."""

    def enum(annotation: Any) -> bool:
        return any(isinstance(a, type) and issubclass(a, Enum) for a in get_args(annotation) or (annotation,))

    return tuple(name for name, f in model.model_fields.items() if enum(f.annotation))


def _plain(model: BaseModel, row: dict[str, Any]) -> dict[str, Any]:
    # Enums become their plain string values, which every ClickHouse client accepts. Only the
    # fields typed so are looked at: a row is built for every case an event touches.
    for name in _enum_fields(type(model)):
        value = row[name]
        if value is not None:
            row[name] = value.value
    return row


class _Row(Frozen):
    def row(self) -> dict[str, Any]:
        """Column -> value for a ClickHouse insert (datetimes stay aware, in UTC)."""
        return _plain(self, self.model_dump())


class Response(_Row):
    """One customer message and the agent reply that answered it (`cx.responses`)."""

    case_id: str
    kind: Literal["first", "next"]
    channel: Channel
    priority: Priority
    customer_id: str
    asked_at: AwareDatetime
    answered_at: AwareDatetime
    wait_ms: int
    business_wait_ms: int
    limit_ms: int | None
    within_sla: bool | None
    asked_event_id: str
    answered_event_id: str
    agent_id: str | None
    department: str | None
    version: int = 0


class Alert(_Row):
    """A breach (deadline passed), its recovery (the wait is over), or its retraction (a late event
    showed the wait ended in time: the breach was false) (`cx.alerts`, topic `cx.breaches`)."""

    alert_id: str
    case_id: str
    rule: Rule
    status: Literal["breach", "recovery", "retracted"]
    channel: Channel
    priority: Priority
    customer_id: str
    agent_id: str | None
    department: str | None
    started_at: AwareDatetime
    deadline: AwareDatetime
    detected_at: AwareDatetime
    ended_at: AwareDatetime | None
    waited_ms: int
    limit_ms: int | None
    event_id: str | None
    detail: str
    raised_at: AwareDatetime | None = None  # retraction: when the false breach was raised
    late_ms: int | None = None  # retraction: how far behind the clock the disproving event arrived


# Why an event is in `cx.late_events`.
BEHIND_WATERMARK = "behind_watermark"  # arrived behind its case's clock: applied, the record corrected
PAST_HORIZON = "past_horizon"  # behind its case's settled horizon: too late to change the case
AHEAD_OF_WALL_CLOCK = "ahead_of_wall_clock"  # stamped past the wall clock: kept off the clock
FAR_AHEAD = "far_ahead_of_partition"  # a jump far ahead of its partition that the next event refuted


class LateEvent(_Row):
    """A touchpoint that arrived late or with an odd time (`cx.late_events`): counted, never dropped silently."""

    event_id: str
    case_id: str
    source: str  # attrs.source, else the channel
    channel: Channel
    ts: AwareDatetime
    clock_at: AwareDatetime | None  # the clock it was judged against
    behind_ms: int  # clock_at - ts (negative: stamped ahead)
    reason: str
    applied: bool  # whether it still updated its case

    @classmethod
    def judged(
        cls, event_id: str, case_id: str, source: str | None, channel: str, ts: datetime, clock_at: datetime, reason: str
    ) -> LateEvent:
        """The row of an event at `ts` judged against `clock_at` (`source` None: the channel stands for it)."""
        return cls(
            event_id=event_id,
            case_id=case_id,
            source=source or channel,
            channel=Channel(channel),
            ts=ts,
            clock_at=clock_at,
            behind_ms=ms(clock_at - ts),
            reason=reason,
            applied=reason != PAST_HORIZON,
        )


def late_event(event: CaseEvent, clock_at: datetime, reason: str) -> LateEvent:
    """The `cx.late_events` row of a case event that arrived behind its clock."""
    e = event.entry
    return LateEvent.judged(e.event_id, event.case_id, e.source, e.channel.value, e.ts, clock_at, reason)


def case_row(state: CaseState) -> dict[str, Any]:
    """The `cx.cases` row for a case: its latest measures, open deadline and alert counts."""
    if state.summary is None:
        raise ValueError(f"case {state.case_id} has no events yet")
    return {
        "case_id": state.case_id,
        **_plain(state.summary, state.summary.model_dump()),
        "next_deadline": state.next_due,
        "next_deadline_rule": state.pending[0].rule.value if state.pending else None,
        "breaches": state.breaches,
        "open_breaches": sum(1 for r in state.raised.values() if r.status == "breach"),
        "events": state.events,
        "version": state.revision,
    }
