"""The interface every ClickHouse backend offers. SQL parameters use ClickHouse's `{name:Type}` syntax."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pipeline.store.exceptions import StoreError


_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")


def check_table_name(table: str) -> str:
    """A `db.table` name, or an error: table names are code, never input."""
    if not _TABLE.fullmatch(table):
        raise StoreError(f"not a table name: {table!r}")
    return table


class Store(Protocol):
    """What the pipeline needs from ClickHouse."""

    description: str

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run a SELECT; return column names and rows."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, OPTIMIZE, ...)."""

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert dict rows (keys are column names) as data, never as SQL text; return the count."""

    def close(self) -> None:
        """Release the connection (and the embedded store's directory lock)."""


def scalar(store: Store, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    """The single value of a one-row, one-column query."""
    _, rows = store.query(sql, params)
    return rows[0][0] if rows else None
