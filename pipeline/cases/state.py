"""Per-case state, JSON-serialisable for a changelog table keyed by case_id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from pipeline.events.models import Actor, Channel, Kind, Priority, Touchpoint
from pipeline.sla.policy import Rule


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class Entry(_Model):
    """One touchpoint as the case logic needs it (no free text: it is not needed and may hold PII)."""

    event_id: str
    kind: Kind
    actor: Actor
    ts: AwareDatetime
    channel: Channel
    customer_id: str
    priority: Priority = Priority.normal
    agent_id: str | None = None
    department: str | None = None
    promised_by: AwareDatetime | None = None
    sentiment: float | None = None
    to_agent_id: str | None = None
    to_department: str | None = None

    @field_validator("ts", "promised_by")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        # One zone for every stored instant, so comparisons and JSON are uniform.
        return None if value is None else _utc(value)

    @classmethod
    def of(cls, event: Touchpoint, sentiment: float | None = None) -> Entry:
        """Keep what the case logic uses from a touchpoint."""
        attrs = event.attrs or {}
        return cls(
            event_id=event.event_id,
            kind=event.kind,
            actor=event.actor,
            ts=event.ts,
            channel=event.channel,
            customer_id=event.customer_id,
            priority=event.priority,
            agent_id=event.agent_id,
            department=event.department,
            promised_by=event.promised_by,
            sentiment=sentiment,
            to_agent_id=_str_or_none(attrs.get("to_agent_id")),
            to_department=_str_or_none(attrs.get("to_department")),
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Deadline(_Model):
    """A moment by which something must have happened; `ended_at` is set once it no longer runs."""

    alert_id: str
    rule: Rule
    started_at: AwareDatetime
    deadline: AwareDatetime
    channel: Channel
    limit_ms: int | None = None
    ended_at: AwareDatetime | None = None
    ended_by: str | None = None  # event_id that stopped the clock
    detail: str = ""


class Raised(_Model):
    """An alert already sent for a deadline, so it is never sent twice."""

    deadline: Deadline
    status: Literal["breach", "recovery"]
    detected_at: AwareDatetime


class Summary(_Model):
    """The per-case measures, as of every event seen so far (the `cx.cases` row minus bookkeeping)."""

    customer_id: str
    channel: Channel
    priority: Priority
    status: Literal["open", "resolved", "closed"] = "open"
    owner_agent_id: str | None = None
    department: str | None = None
    opened_at: AwareDatetime
    last_event_at: AwareDatetime
    first_message_at: AwareDatetime | None = None
    first_response_at: AwareDatetime | None = None
    first_response_ms: int | None = None
    waiting_since: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    resolution_ms: int | None = None
    resolution_business_ms: int | None = None
    last_resolved_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    messages: int = 0
    replies: int = 0
    handoffs: int = 0
    reopens: int = 0
    recontacts: int = 0
    promises: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    promise_due: AwareDatetime | None = None
    follow_up_due: AwareDatetime | None = None
    follow_up_at: AwareDatetime | None = None
    follow_up_done: bool | None = None
    first_sentiment: float | None = None
    last_sentiment: float | None = None


class CaseState(_Model):
    """Everything known about one case: the ordered event log, measures, deadlines and alerts sent."""

    case_id: str
    log: list[Entry] = Field(default_factory=list)  # sorted by event time, unique event_id
    summary: Summary | None = None
    pending: list[Deadline] = Field(default_factory=list)  # running, not yet breached; by deadline
    raised: dict[str, Raised] = Field(default_factory=dict)  # alert_id -> last alert sent
    answered: dict[str, str] = Field(default_factory=dict)  # asked event_id -> response row sent
    revision: int = 0  # bumps on every change; the `version` of ReplacingMergeTree rows

    @property
    def next_due(self) -> datetime | None:
        """The earliest pending deadline, i.e. when the timer next needs to look at this case."""
        return self.pending[0].deadline if self.pending else None

    def to_json(self) -> dict:
        """A JSON-ready dict (for a Faust table value or a file)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict) -> CaseState:
        """Restore what `to_json` produced."""
        return cls.model_validate(data)
