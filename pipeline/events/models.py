"""Input event contracts: touchpoints and reviews (see BRIEF.md, 'Contracts')."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class Channel(StrEnum):
    """Where the customer touched the company."""

    phone = "phone"
    chat = "chat"
    email = "email"
    app = "app"
    social = "social"
    store = "store"
    field = "field"


class Kind(StrEnum):
    """What happened on a case."""

    contact_opened = "contact_opened"
    customer_message = "customer_message"
    agent_reply = "agent_reply"
    transfer = "transfer"
    promise = "promise"
    resolved = "resolved"
    reopened = "reopened"
    follow_up = "follow_up"
    closed = "closed"


class Actor(StrEnum):
    """Who caused the event."""

    customer = "customer"
    agent = "agent"
    system = "system"


class Priority(StrEnum):
    """Case priority; drives the resolution SLA."""

    high = "high"
    normal = "normal"
    low = "low"


ID_MAX_LENGTH = 128
_ID = Field(min_length=1, max_length=ID_MAX_LENGTH)
# Times outside these bounds are a producer's bug (epoch zero, a year typo, a skewed clock), and
# ClickHouse would clamp them silently rather than refuse them: rejected here, with the reason.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_PROMISE = datetime(2100, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
# attrs is free-form: bounded so that storing it (as JSON text) cannot blow the stack or the row.
ATTRS_MAX_DEPTH = 8
ATTRS_MAX_ITEMS = 256


def _attrs_shape(value: Any, depth: int = 1) -> int:
    """How many values `value` holds, or ValueError when it is nested deeper than ATTRS_MAX_DEPTH."""
    if depth > ATTRS_MAX_DEPTH:
        raise ValueError(f"attrs nested deeper than {ATTRS_MAX_DEPTH} levels")
    if isinstance(value, dict):
        return sum(1 + _attrs_shape(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return sum(1 + _attrs_shape(v, depth + 1) for v in value)
    return 0


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("ts", check_fields=False)
    @classmethod
    def _has_offset(cls, value: datetime) -> datetime:
        # AwareDatetime already rejects naive times; this keeps the error message domain-specific.
        if value.utcoffset() is None:
            raise ValueError("ts must carry a UTC offset (RFC 3339)")
        latest = datetime.now(UTC) + CLOCK_SKEW
        if not EARLIEST <= value <= latest:
            raise ValueError(f"ts {value.isoformat()} is before {EARLIEST.year} or more than a day ahead of now")
        return value

    @field_validator("promised_by", check_fields=False)
    @classmethod
    def _plausible_promise(cls, value: datetime | None) -> datetime | None:
        if value is not None and not EARLIEST <= value < LATEST_PROMISE:
            raise ValueError(f"promised_by {value.isoformat()} is outside {EARLIEST.year}-{LATEST_PROMISE.year - 1}")
        return value


class Touchpoint(_Event):
    """One thing that happened on a customer case, on one channel."""

    event_id: str = _ID
    case_id: str = _ID
    customer_id: str = _ID
    channel: Channel
    kind: Kind
    actor: Actor
    agent_id: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=128)
    ts: AwareDatetime
    text: str | None = Field(default=None, max_length=20_000)
    priority: Priority = Priority.normal
    promised_by: AwareDatetime | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attrs")
    @classmethod
    def _bounded_attrs(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _attrs_shape(value) > ATTRS_MAX_ITEMS:
            raise ValueError(f"attrs holds more than {ATTRS_MAX_ITEMS} values")
        return value


class Review(_Event):
    """A customer's written review, optionally tied to a case."""

    review_id: str = _ID
    customer_id: str = _ID
    case_id: str | None = Field(default=None, max_length=128)
    channel: Channel
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str = Field(max_length=20_000)
    ts: AwareDatetime
    source: str = Field(default="unknown", max_length=128)
