"""The SLA policy (YAML): response, resolution, handoff, promise and follow-up limits."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import CxError
from pipeline.events.models import Channel, Priority
from pipeline.sla.business_hours import BusinessHours
from pipeline.validation import first_error

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Rule(StrEnum):
    """The SLA rules a breach can belong to (the `rule` column of `cx.alerts`)."""

    first_response = "first_response"
    next_reply = "next_reply"
    resolution = "resolution"
    handoffs = "handoffs"
    promise = "promise"
    follow_up = "follow_up"


def parse_duration(value: Any) -> Any:
    """Read '30s', '5m', '4h', '3d' (or a number of seconds, '600' too) as a timedelta; pass anything else on."""
    if isinstance(value, bool):
        return value  # let pydantic reject it rather than read True as one second
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if m:
            return timedelta(seconds=float(m[1]) * _UNITS[m[2] or "s"])
    return value


def human(span: timedelta) -> str:
    """A duration as policy files write it: '90s', '30m', '4h', '3d'."""
    seconds = span.total_seconds()
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    """How long something may take, on the calendar or in business hours, optionally by priority."""

    within: Duration
    clock: Literal["calendar", "business"] = "calendar"
    by_priority: dict[Priority, Duration] = Field(default_factory=dict)

    @field_validator("within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a limit must be positive")
        return value

    def span(self, priority: Priority) -> timedelta:
        """The allowed time for a case of this priority."""
        return self.by_priority.get(priority, self.within)


class HandoffRule(_Strict):
    """Passing the customer from desk to desk: more than `max_transfers` is a breach."""

    max_transfers: int = Field(default=2, ge=0)


class PromiseRule(_Strict):
    """A promise is kept when the case is resolved or followed up by `promised_by` (+ grace)."""

    grace: Duration = timedelta(0)


class SlaPolicy(_Strict):
    """All SLA limits; see `default_policy.yaml` for the shipped defaults and their meaning."""

    business_hours: BusinessHours = BusinessHours()
    first_response: dict[Channel, Limit] = Field(default_factory=dict)
    next_reply: dict[Channel, Limit] = Field(default_factory=dict)
    resolution: dict[Priority, Limit] = Field(default_factory=dict)
    handoffs: HandoffRule = HandoffRule()
    promise: PromiseRule = PromiseRule()
    follow_up: Limit = Limit(within=timedelta(days=3))
    # Replay clock: how far behind the newest event time the watermark trails.
    lateness: Duration = timedelta(seconds=30)

    def response_limit(self, rule: Rule, channel: Channel) -> Limit | None:
        """The first-response or next-reply limit for a channel (None: no SLA on that channel)."""
        table = self.first_response if rule is Rule.first_response else self.next_reply
        return table.get(channel)

    def deadline(self, start: datetime, limit: Limit, priority: Priority) -> datetime:
        """When a wait that began at `start` breaches `limit`."""
        span = limit.span(priority)
        if limit.clock == "business":
            return self.business_hours.add(start, span)
        return start + span

    def wait(self, start: datetime, end: datetime) -> tuple[timedelta, timedelta]:
        """(calendar, business) time from `start` to `end`."""
        return end - start, self.business_hours.between(start, end)


class PolicyError(CxError, ValueError):
    """The SLA policy file is wrong: fix it (the message names the file and field); do not retry."""


def load_policy(path: str | os.PathLike[str] | None = None) -> SlaPolicy:
    """Load the policy from `path` (CX_SLA_POLICY, via Settings), else the packaged default.
    A file that cannot be read or is not a valid policy raises PolicyError naming the file and field."""
    where = str(path) if path else "the packaged default policy"
    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = resources.files("pipeline.sla").joinpath("default_policy.yaml").read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the SLA policy {where}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"SLA policy {where} is not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"SLA policy {where} must be a YAML mapping, got {type(data).__name__}")
    try:
        return SlaPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"SLA policy {where}, {first_error(exc)} (durations as 30s, 5m, 4h, 3d or seconds)") from None
