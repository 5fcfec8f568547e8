"""Input event contracts: touchpoints and reviews (see BRIEF.md, 'Contracts')."""

from __future__ import annotations

from datetime import datetime
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


_ID = Field(min_length=1, max_length=128)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("ts", check_fields=False)
    @classmethod
    def _has_offset(cls, value: datetime) -> datetime:
        # AwareDatetime already rejects naive times; this keeps the error message domain-specific.
        if value.utcoffset() is None:
            raise ValueError("ts must carry a UTC offset (RFC 3339)")
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
