"""How a configuration file's first mistake is said: the field's dotted path and pydantic's message."""

from __future__ import annotations

from pydantic import ValidationError


def first_error(exc: ValidationError) -> str:
    """"field `a.b`: message" for the first error pydantic found (just the message when it has no field)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"field `{field}`: {message}" if field else message
