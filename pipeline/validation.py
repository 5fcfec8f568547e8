"""How a configuration mistake is said: the field's dotted path (or variable) and pydantic's message."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def reason(err: ErrorDetails) -> str:
    """pydantic's message for one error, without the "Value error, " a validator's ValueError gets."""
    return err["msg"].removeprefix("Value error, ")


def first_error(exc: ValidationError) -> str:
    """"field `a.b`: message" for the first error pydantic found (just the message when it has no field)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    return f"field `{field}`: {reason(err)}" if field else reason(err)
