"""Turn raw message bytes into a validated event, or a rejection with a readable reason."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.events.models import Review, Touchpoint

M = TypeVar("M", bound=BaseModel)
# A \uD800-\uDFFF escape: legal JSON, but alone it is no character and cannot be stored as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def decode_event(raw: bytes | str) -> tuple[str, object] | Rejected:
    """A message's text and its JSON value, or why it has none (not UTF-8, not JSON)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Kept byte for byte (\xNN escapes), so the payload can still be repaired and replayed.
            return Rejected(raw.decode("utf-8", "backslashreplace"), f"not UTF-8: {exc.reason} at byte {exc.start}")
    else:
        text = raw
        if _SURROGATE.search(text):
            return Rejected(text.encode("utf-8", "backslashreplace").decode("utf-8"), "not valid Unicode: lone surrogate")
    try:
        return text, json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return Rejected(text, f"not JSON: {exc}")


def validate_event(text: str, data: object, model: type[M]) -> M | Rejected:
    """A decoded message as `model`, or the reason it is not one."""
    if not isinstance(data, dict):
        return Rejected(text, f"not a JSON object: got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        return Rejected(text, "not valid Unicode: a \\u escape of a lone surrogate (D800-DFFF)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return Rejected(text, f"invalid {model.__name__.lower()}: {_reason(exc)}")
    except RecursionError:
        return Rejected(text, "invalid: nested too deeply")


def _parse(raw: bytes | str, model: type[M]) -> M | Rejected:
    decoded = decode_event(raw)
    return decoded if isinstance(decoded, Rejected) else validate_event(*decoded, model)


def parse_touchpoint(raw: bytes | str) -> Touchpoint | Rejected:
    """Validate one `cx.touchpoints` message."""
    return _parse(raw, Touchpoint)


def parse_review(raw: bytes | str) -> Review | Rejected:
    """Validate one `cx.reviews` message."""
    return _parse(raw, Review)
