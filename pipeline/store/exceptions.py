"""What went wrong with ClickHouse, said so the caller knows what to do: retry, or give up on the row."""

from __future__ import annotations

import re

from pipeline.errors import CxError


class StoreError(CxError, RuntimeError):
    """A statement failed; the message is ClickHouse's (or the driver's)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class StoreBusy(StoreError):
    """The embedded store is held by another process: stop it, or use another data directory."""


class StoreUnavailable(StoreError):
    """ClickHouse cannot take the work now (down, timeout, overloaded, read-only for a while): retry
    later with backoff; the data is fine and must not be dead-lettered."""


class RowRejected(StoreError):
    """ClickHouse refused the data itself (a value it cannot parse or store): retrying will not help;
    the row goes to the dead-letter table with this reason."""


# ClickHouse error codes (src/Common/ErrorCodes.cpp) that mean "this data is wrong".
DATA_ERRORS = {
    6,  # CANNOT_PARSE_TEXT
    25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  # CANNOT_PARSE_QUOTED_STRING
    27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,  # ATTEMPT_TO_READ_AFTER_EOF
    38,  # CANNOT_PARSE_DATE
    41,  # CANNOT_PARSE_DATETIME
    53,  # TYPE_MISMATCH
    69,  # ARGUMENT_OUT_OF_BOUND
    70,  # CANNOT_CONVERT_TYPE
    72,  # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    130,  # CANNOT_READ_ARRAY_FROM_TEXT
    131,  # TOO_LARGE_STRING_SIZE
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    691,  # UNKNOWN_ELEMENT_OF_ENUM
}
# ... and those that mean "not now".
UNAVAILABLE_ERRORS = {
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (a replica that lost its keeper session)
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    279,  # ALL_CONNECTION_TRIES_FAILED
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    999,  # KEEPER_EXCEPTION
}
_CODE = re.compile(r"Code: (\d+)\.")


def error_from(message: str, code: int | None = None) -> StoreError:
    """The right error for a failure with ClickHouse's `code` (read from the message when not given)."""
    if code is None:
        match = _CODE.search(message)
        code = int(match.group(1)) if match else None
    if code in DATA_ERRORS:
        return RowRejected(message, code)
    if code in UNAVAILABLE_ERRORS:
        return StoreUnavailable(message, code)
    return StoreError(message, code)
