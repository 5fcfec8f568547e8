"""Turn raw message bytes into a validated event, or a rejection with a readable reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.events.models import Review, Touchpoint

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that cannot be processed: the raw payload is kept with the reason."""

    raw: str
    reason: str


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def _parse(raw: bytes | str, model: type[M]) -> M | Rejected:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return Rejected(text, f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Rejected(text, f"not a JSON object: got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return Rejected(text, f"invalid {model.__name__.lower()}: {_reason(exc)}")


def parse_touchpoint(raw: bytes | str) -> Touchpoint | Rejected:
    """Validate one `cx.touchpoints` message."""
    return _parse(raw, Touchpoint)


def parse_review(raw: bytes | str) -> Review | Rejected:
    """Validate one `cx.reviews` message."""
    return _parse(raw, Review)
