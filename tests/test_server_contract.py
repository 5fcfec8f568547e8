"""The ClickHouse-server path without a server: every table's rows, exactly as the stream builds
them, go through clickhouse-driver's own block writer with our migrations' column types (read from
chdb), are read back by the driver's block reader, and must equal what chdb stored for the same rows.
A row a real server would refuse (a string where DateTime64 is expected, a wrong Enum) fails here."""

from __future__ import annotations

import math
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from clickhouse_driver import Client, defines, errors
from clickhouse_driver.block import RowOrientedBlock
from clickhouse_driver.bufferedreader import BufferedSocketReader
from clickhouse_driver.bufferedwriter import BufferedSocketWriter
from clickhouse_driver.connection import ServerInfo
from clickhouse_driver.streams.native import BlockInputStream, BlockOutputStream

from pipeline.store import empty_data_tables

from tests.rows import stream_rows


@pytest.fixture(scope="module")
def rows():
    return stream_rows(events=600, seed=11, malformed=6)


def _driver_context():
    """The context a connected clickhouse-driver client writes blocks with (server in UTC)."""
    context = Client("127.0.0.1").connection.context  # no connection is made
    revision = defines.CLIENT_REVISION
    context.server_info = ServerInfo("ClickHouse", 25, 8, 0, revision, "UTC", "cx", revision)
    return context


def _column_types(store, table: str) -> dict[str, str]:
    database, name = table.split(".")
    _, found = store.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}", {"d": database, "t": name}
    )
    return dict(found)


def _through_driver(context, columns_with_types, rows) -> list[tuple]:
    """Serialise rows as the driver's INSERT does (dict rows, the sample block's columns) onto a real
    socket with its buffered writer, and read the block back from the other end with its reader."""
    ours, theirs = socket.socketpair()
    with ours, theirs, ThreadPoolExecutor(1) as pool:
        received = pool.submit(lambda: BlockInputStream(BufferedSocketReader(theirs, 1 << 16), context).read())
        block = RowOrientedBlock(columns_with_types, [dict(r) for r in rows], types_check=True)
        try:
            BlockOutputStream(BufferedSocketWriter(ours, 1 << 16), context).write(block)
        finally:
            ours.shutdown(socket.SHUT_WR)  # a refused block must not leave the reader waiting
        back = received.result(timeout=60)
    return [tuple(r) for r in back.get_rows()]


def _plain(value):
    """A value as both sides can be compared: UTC-naive datetimes, lists for arrays and tuples."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):  # chdb gives a named tuple as a mapping, the driver as a tuple
        return [_plain(v) for v in value.values()]
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else value
    return value


def test_every_table_written_by_the_driver_reads_back_as_chdb_stores_it(clean_store, rows):
    context = _driver_context()
    for table, table_rows in rows.items():
        types = _column_types(clean_store, table)
        columns = list(table_rows[0])
        assert set(columns) <= set(types), f"{table}: rows carry columns the table lacks: {set(columns) - set(types)}"
        assert all(list(r) == columns for r in table_rows), f"{table}: rows differ in their columns"
        via_driver = [[_plain(v) for v in r] for r in _through_driver(context, [(c, types[c]) for c in columns], table_rows)]
        # What the server decodes is what we sent ...
        assert via_driver == [[_plain(r[c]) for c in columns] for r in table_rows], table
        # ... and what chdb stores from the same rows (after optimize_on_insert collapses replaced versions).
        clean_store.insert(table, table_rows)
        _, stored = clean_store.query(f"SELECT {', '.join(columns)} FROM {table}")
        decoded = {repr(r) for r in via_driver}
        assert stored and all(repr([_plain(v) for v in r]) in decoded for r in stored), table
    empty_data_tables(clean_store)


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [
        ("cx.touchpoints", "ts", "2026-11-02 00:00:00.250"),  # what touchpoint rows used to carry
        ("cx.responses", "wait_ms", "1200"),
        ("cx.cases", "follow_up_done", "yes"),
    ],
)
def test_a_row_the_server_would_refuse_fails_here(rows, store, table, column, bad):
    row = {**rows[table][0], column: bad}
    types = _column_types(store, table)
    with pytest.raises((errors.TypeMismatchError, AttributeError, TypeError)):
        _through_driver(_driver_context(), [(c, types[c]) for c in row], [row])
