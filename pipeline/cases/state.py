"""Per-case state, JSON-serialisable for a changelog table keyed by case_id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, field_validator

from pipeline.events.models import Actor, Channel, Kind, Priority, Touchpoint
from pipeline.sla.policy import Rule


class Frozen(BaseModel):
    """The case logic's models: frozen, no extra fields, cheap to copy (`evolve`) and to build from
    values that are already of the fields' types (`trusted`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> bytes:
        """The wire form (case feed, changelog): JSON, fields at their defaults left out."""
        return self.model_dump_json(exclude_defaults=True).encode()

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Self:
        """A model of `values` already of the fields' types (from validated models), not validated;
        fields left out take their defaults. For what the case logic builds on every event."""
        template, required = _template(cls)
        if not required <= values.keys():
            raise ValueError(f"{cls.__name__} needs {sorted(required - values.keys())}")
        fields = dict(template)
        fields.update(values)  # keys keep the template's places: the JSON's field order is the schema's
        return _unvalidated(cls, fields, set(values))

    def evolve(self, **changes: Any) -> Self:
        """A copy with `changes` (values of the fields' types, not validated: like `model_copy(update=)`).

        Every event copies its case's state a few times; `model_copy` takes twice as long, going
        through `copy.copy` for each of the model's inner dictionaries."""
        return _unvalidated(type(self), {**self.__dict__, **changes}, self.__pydantic_fields_set__ | changes.keys())


_M = TypeVar("_M", bound="Frozen")


def _unvalidated(model: type[_M], fields: dict[str, Any], fields_set: set[str]) -> _M:
    """A `model` holding `fields` as they are (what pydantic's own construction leaves, minus validation)."""
    new = object.__new__(model)
    object.__setattr__(new, "__dict__", fields)
    object.__setattr__(new, "__pydantic_fields_set__", fields_set)
    object.__setattr__(new, "__pydantic_extra__", None)  # extra="forbid"
    object.__setattr__(new, "__pydantic_private__", None)  # no private attributes
    return new


@cache
def _template(model: type[Frozen]) -> tuple[dict[str, Any], frozenset[str]]:
    """Every field of `model` in order, at its default (None if required), and the required ones.
    Not for models with default factories: a default list would be shared by every model built."""
    if any(f.default_factory is not None for f in model.model_fields.values()):
        raise TypeError(f"{model.__name__} has default factories: build it with validation")
    fields = model.model_fields
    return {n: None if f.is_required() else f.default for n, f in fields.items()}, frozenset(
        n for n, f in fields.items() if f.is_required()
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class Entry(Frozen):
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
    source: str | None = None  # the system the event came from (attrs.source), for lateness per source

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
            source=_str_or_none(attrs.get("source")),
        )


class CaseEvent(Frozen):
    """A touchpoint as the case agent gets it on `cx.case-events`: its case and what the case logic keeps.

    The landing agent builds it, so the agent neither parses nor re-validates the whole touchpoint,
    and the free text (which may hold PII) never reaches the internal topic."""

    case_id: str
    entry: Entry

    @classmethod
    def of(cls, event: Touchpoint, sentiment: float | None = None) -> CaseEvent:
        """The case event of a validated touchpoint."""
        return cls(case_id=event.case_id, entry=Entry.of(event, sentiment))


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Deadline(Frozen):
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


class Raised(Frozen):
    """An alert already sent for a deadline, so it is never sent twice."""

    deadline: Deadline
    status: Literal["breach", "recovery", "retracted"]
    detected_at: AwareDatetime


class Summary(Frozen):
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


# Summary fields worked out at the end of a fold, from its deadlines; the rest are counted event by event.
FROM_DEADLINES = frozenset({"priority", "waiting_since", "promises_kept", "promises_broken", "promise_due", "follow_up_due"})

# The running totals of a fold: the Summary fields counted event by event (same names and types).
Measures = create_model(
    "Measures",
    __base__=Frozen,
    **{n: (f.annotation, f) for n, f in Summary.model_fields.items() if n not in FROM_DEADLINES},
)


class Settled(Frozen):
    """Where reading a case's settled events left off: enough to go on without those events.

    Events older than the horizon `until` are folded in here and leave the log, so a case's state
    stays the size of its open business (running deadlines, unanswered messages), not its history.
    """

    until: AwareDatetime  # every settled event is older; a newer arrival older than this is too late
    events: int  # how many events were folded in
    breaches: int = 0  # alerts raised on deadlines that ended and left the state
    priority: Priority
    measures: Measures  # type: ignore[valid-type]
    deadlines: list[Deadline] = Field(default_factory=list)  # running, or still referenced below
    waiting: list[Entry] = Field(default_factory=list)  # customer messages of the turn not yet answered
    turn_deadline: str | None = None  # alert ids, into `deadlines`
    resolution: str | None = None
    follow_up: str | None = None
    promises: list[str] = Field(default_factory=list)  # promises not yet kept
    promises_kept: int = 0  # of promises that ended and left `deadlines`
    promises_broken: int = 0
    recontact_armed: bool = False
    first_contact: str | None = None  # event_id of the first customer contact


class CaseState(Frozen):
    """Everything known about one case: what its settled events left, the open log, deadlines, alerts sent."""

    case_id: str
    settled: Settled | None = None
    log: list[Entry] = Field(default_factory=list)  # events after `settled.until`: by event time, unique event_id
    summary: Summary | None = None
    pending: list[Deadline] = Field(default_factory=list)  # running, not yet breached; by deadline
    raised: dict[str, Raised] = Field(default_factory=dict)  # alert_id -> last alert sent
    answered: dict[str, str] = Field(default_factory=dict)  # asked event_id -> response row sent
    revision: int = 0  # bumps on every change; the `version` of ReplacingMergeTree rows
    # Set on the marker a case leaves when its state is evicted: events older than this are its past
    # (a redelivered batch that held them, or an event too late to matter) and must not start it again.
    gone: AwareDatetime | None = None

    def holds(self, event_id: str) -> bool:
        """Whether the event is in the case's open log (a redelivery, not news)."""
        return any(e.event_id == event_id for e in self.log)

    def too_late(self, ts: datetime) -> bool:
        """Whether an event at `ts` falls in the settled past (it can no longer be put in its place)."""
        return self.settled is not None and ts < self.settled.until

    @property
    def quiet_since(self) -> datetime | None:
        """When a closed case went quiet (its last event), if nothing about it is still running."""
        s = self.summary
        return s.last_event_at if s and s.status == "closed" and not self.pending else None

    @property
    def breaches(self) -> int:
        """Deadlines alerted on and not retracted, ever."""
        return standing(self.raised) + (self.settled.breaches if self.settled else 0)

    @property
    def events(self) -> int:
        """Events the case has taken in, settled or not."""
        return len(self.log) + (self.settled.events if self.settled else 0)

    @property
    def next_due(self) -> datetime | None:
        """The earliest pending deadline, i.e. when the timer next needs to look at this case."""
        return self.pending[0].deadline if self.pending else None

    def to_json(self) -> dict:
        """A JSON-ready dict (for a Faust table value or a file); fields at their defaults are left out."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_json(cls, data: dict) -> CaseState:
        """Restore what `to_json` produced."""
        return cls.model_validate(data)


def standing(raised: Mapping[str, Raised]) -> int:
    """The alerts in `raised` that no late event proved false."""
    return sum(1 for r in raised.values() if r.status != "retracted")


class CaseRecord(Frozen):
    """A case table value: the partition the case's events arrive on, and its state.

    The table holds these objects; only the changelog holds their JSON (`dump`), so a batch does
    not parse and re-serialise the state of every case it touches. A restored value is the same
    JSON as a dict (`model_validate`)."""

    partition: int
    state: CaseState
