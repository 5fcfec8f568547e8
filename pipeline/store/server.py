"""A ClickHouse server over the native protocol (clickhouse-driver), selected by CX_CLICKHOUSE_URL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from clickhouse_driver import errors

from pipeline.store.base import check_table_name
from pipeline.store.exceptions import StoreError, StoreUnavailable, error_from


class ServerStore:
    """clickhouse-driver client with server-side parameters, so `{name:Type}` works as in chdb."""

    def __init__(self, url: str):
        from clickhouse_driver import Client

        parts = urlsplit(url)
        # Never echo the password: describe the server by host and database only.
        self.description = f"ClickHouse server {parts.hostname}:{parts.port or 9000}{parts.path or ''}"
        # The driver logs each failed connection try with a traceback; the StoreUnavailable raised says it once.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)
        self._client = Client.from_url(url)
        self._client.settings["server_side_params"] = True
        self._lock = threading.Lock()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run a SELECT; return column names and rows."""
        with self._lock:
            try:
                rows, columns = self._client.execute(sql, dict(params or {}), with_column_types=True)
            except (errors.Error, EOFError, OSError) as exc:
                raise _store_error(exc, self.description) from None
        return [c[0] for c in columns], [tuple(r) for r in rows]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        self.query(sql, params)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert dict rows through the native protocol's data blocks."""
        if not rows:
            return 0
        check_table_name(table)
        columns = list(rows[0].keys())
        with self._lock:
            try:
                self._client.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES",
                    [dict(r) for r in rows],
                    types_check=False,
                )
            except (errors.Error, EOFError, OSError) as exc:
                raise _store_error(exc, self.description) from None
        return len(rows)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()


def _store_error(exc: Exception, server: str) -> StoreError:
    """clickhouse-driver's error as ours: lost connections and timeouts are outages."""
    if isinstance(exc, errors.NetworkError | errors.SocketTimeoutError | errors.UnexpectedPacketFromServerError | EOFError | OSError):
        return StoreUnavailable(f"{server} did not answer (check CX_CLICKHOUSE_URL): {type(exc).__name__}: {exc}")
    return error_from(str(exc), getattr(exc, "code", None))
