"""Embedded ClickHouse (chdb): the default store, data in a local directory, one process at a time."""

from __future__ import annotations

import fcntl
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from pipeline.store.base import check_table_name
from pipeline.store.exceptions import RowRejected, StoreBusy, StoreError, error_from

_ENUM = re.compile(r"(?:Nullable\()?Enum(?:8|16)\((.*)\)\)?")
_ENUM_ITEM = re.compile(r"'((?:[^'\\]|\\.)*)' = (-?\d+)")
_LOCK_MARKERS = ("Cannot lock file", "already running", "Error initializing EmbeddedServer")
# chdb allows one data path per process; remember which one this process opened.
_open: dict[str, EmbeddedStore] = {}
_open_guard = threading.Lock()


def _utc_text(value: datetime) -> str:
    # ClickHouse's default input format for DateTime64 has no 'T' and no offset: send UTC.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _json_default(value: Any) -> Any:
    # What orjson does not write itself (it writes datetimes, dates, enums and tuples).
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


class EmbeddedStore:
    """chdb connection guarded by a lock: chdb runs one statement at a time per connection."""

    def __init__(self, path: Path):
        import chdb

        self.path = path.resolve()
        self.description = f"embedded ClickHouse (chdb) at {self.path}"
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Ask the lock file first: chdb would print its own error to stderr before raising a vague one.
        if _held_elsewhere(self.path / "status"):
            raise self._busy()
        try:
            self._conn = chdb.connect(str(self.path))
        except RuntimeError as exc:
            if any(m in str(exc) for m in _LOCK_MARKERS) and _held_elsewhere(self.path / "status"):
                raise self._busy() from None
            raise StoreError(str(exc)) from None

    def _busy(self) -> StoreBusy:
        return StoreBusy(
            f"the embedded ClickHouse store at {self.path} is in use by another process "
            "(a running `cx worker` or `cx demo`?). Stop it, or point CX_DATA_DIR elsewhere, "
            "or set CX_CLICKHOUSE_URL to use a ClickHouse server."
        )

    @classmethod
    def open(cls, path: Path) -> EmbeddedStore:
        """The process-wide store for `path` (chdb cannot open two directories in one process)."""
        key = str(path.resolve())
        with _open_guard:
            store = _open.get(key)
            if store is None or store._conn is None:
                if any(s._conn is not None for s in _open.values()):
                    other = next(k for k, s in _open.items() if s._conn is not None)
                    raise StoreError(f"this process already uses the embedded store at {other}")
                store = _open[key] = cls(path)
            return store

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run a SELECT; return column names and rows with Python types."""
        table = self._run(sql, "ArrowTable", params)
        names = list(table.column_names)
        rows = [tuple(r[i] for i in range(len(names))) for r in _rows(table)]
        # Arrow carries an Enum as its number; give back the name, as the server driver does.
        if rows and any(str(f.type) in ("int8", "int16") for f in table.schema):
            labels = self._enum_labels(sql, params)
            if labels:
                columns = [labels.get(name) for name in names]
                rows = [tuple(v if m is None or v is None else m[v] for v, m in zip(row, columns)) for row in rows]
        return names, rows

    def _enum_labels(self, sql: str, params: Mapping[str, Any] | None) -> dict[str, dict[int, str]]:
        """For each Enum column of `sql`'s result: number -> name."""
        described = self._run(f"DESCRIBE ({sql})", "ArrowTable", params)
        out = {}
        for name, kind in zip(described.column("name").to_pylist(), described.column("type").to_pylist()):
            match = _ENUM.fullmatch(kind)
            if match:
                out[name] = {int(n): label.replace("\\'", "'") for label, n in _ENUM_ITEM.findall(match.group(1))}
        return out

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        self._run(sql, "CSV", params)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Stream rows as JSONEachRow data (one JSON array) into `table` (data, not SQL text)."""
        if not rows:
            return 0
        check_table_name(table)
        # orjson: several times faster than the standard library on the worker's one thread. It
        # writes datetimes as RFC 3339 with their offset (naive: none), which ClickHouse's
        # best-effort parsing reads as the same instant (naive ones as UTC). One call for the whole
        # batch, a JSON array (which JSONEachRow reads too): a call per row costs more than the row.
        try:
            payload = orjson.dumps(rows if isinstance(rows, list) else list(rows), default=_json_default)
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits: no column holds it
            raise RowRejected(f"cannot write a row of {table} as JSON: {exc}") from None
        # Tuples arrive as JSON arrays (as clickhouse-driver takes them), not as objects.
        sql = (
            f"INSERT INTO {table} SETTINGS input_format_json_named_tuples_as_objects = 0, "
            "date_time_input_format = 'best_effort'"
        )
        with self._lock:
            try:
                with self._conn.send_insert(sql, format="JSONEachRow") as inserter:
                    inserter.append(payload)
                    inserter.finish()
            except RuntimeError as exc:
                raise error_from(str(exc)) from None
        return len(rows)

    def _run(self, sql: str, fmt: str, params: Mapping[str, Any] | None):
        with self._lock:
            if self._conn is None:
                raise StoreError("store is closed")
            try:
                return self._conn.query(sql, fmt, params=_params(params))
            except RuntimeError as exc:
                raise error_from(str(exc).strip()) from None

    def close(self) -> None:
        """Close the connection and release the directory lock."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters as chdb passes them on (as text): datetimes in UTC, ClickHouse's format."""
    if not params:
        return None
    return {k: _param_text(v) for k, v in params.items()}


_ESCAPED = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})


def _param_text(value: Any) -> Any:
    # Arrays travel as ClickHouse's text form of an array value (a value, parsed as data, not SQL).
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(v) for v in value) + "]"
    if isinstance(value, str):
        # chdb reads a parameter in the escaped (TSV) format: a bare backslash or newline would be
        # taken as an escape or the value's end.
        return value.translate(_ESCAPED)
    return _utc_text(value) if isinstance(value, datetime) else value


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return f"'{_utc_text(value)}'"
    return str(value)


def _held_elsewhere(status_file: Path) -> bool:
    """Whether another process holds ClickHouse's lock on `status_file` (flock, as the server takes it)."""
    if not status_file.exists():
        return False
    with open(status_file, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _rows(table) -> list[tuple]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns)) if columns else []
