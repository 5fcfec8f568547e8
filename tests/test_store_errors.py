"""An outage is waited out, never dead-lettered; a row ClickHouse refuses goes, alone, to the DLQ."""

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.generate import generate
from pipeline.landing import Message, land_touchpoints
from pipeline.store import RowRejected, StoreError, StoreUnavailable
from pipeline.store.base import scalar
from pipeline.store.exceptions import error_from
from pipeline.store.tables import DLQ, TOUCHPOINTS
from streams.demo import feed_and_wait
from streams.sinks.clickhouse import ClickHouseSink

from harness.faults import Outage


def _touchpoint_rows(n: int) -> list[dict]:
    lines = [ln for ln in generate(n, seed=3).lines if '"review_id"' not in ln]
    return land_touchpoints([Message(ln.encode(), "cx.touchpoints", 0, i) for i, ln in enumerate(lines)]).rows[TOUCHPOINTS]


def test_clickhouse_codes_say_retry_or_give_up():
    assert isinstance(error_from("Code: 41. DB::Exception: Cannot read DateTime"), RowRejected)
    assert isinstance(error_from("Code: 691. DB::Exception: Unknown element 'y' for enum"), RowRejected)
    assert isinstance(error_from("Code: 241. DB::Exception: Memory limit (total) exceeded"), StoreUnavailable)
    assert isinstance(error_from("Code: 252. DB::Exception: Too many parts"), StoreUnavailable)
    other = error_from("Code: 60. DB::Exception: Unknown table")
    assert type(other) is StoreError and other.code == 60


def test_embedded_store_raises_row_rejected_for_a_value_it_cannot_store(clean_store):
    bad = dict(_touchpoint_rows(20)[0], ts="not a time")
    with pytest.raises(RowRejected) as caught:
        clean_store.insert(TOUCHPOINTS, [bad])
    assert caught.value.code == 41


def test_embedded_store_writes_each_datetime_as_its_instant_in_utc(clean_store):
    # Rows are JSON with RFC 3339 times (orjson): an offset is honoured, a naive time is UTC.
    row = _touchpoint_rows(20)[0]
    shanghai = timezone(timedelta(hours=8))
    rows = [
        dict(row, event_id="aware", ts=datetime(2026, 11, 2, 8, 0, 0, 123456, tzinfo=shanghai)),
        dict(row, event_id="naive", ts=datetime(2026, 11, 2, 0, 0, 0, 999999)),
        dict(row, event_id="utc", ts=datetime(2026, 11, 2, 0, 0, 1, tzinfo=UTC)),
    ]
    clean_store.insert(TOUCHPOINTS, rows)
    got = dict(clean_store.query(f"SELECT event_id, toString(ts) FROM {TOUCHPOINTS}")[1])
    assert got == {"aware": "2026-11-02 00:00:00.123", "naive": "2026-11-02 00:00:00.999", "utc": "2026-11-02 00:00:01.000"}


def test_a_row_that_cannot_be_written_as_json_is_refused_as_data(clean_store):
    bad = dict(_touchpoint_rows(20)[0], kafka_offset=2**70)
    with pytest.raises(RowRejected, match="cannot write a row of cx.touchpoints as JSON"):
        clean_store.insert(TOUCHPOINTS, [bad])


def test_a_refused_row_goes_alone_to_the_dlq_with_clickhouses_reason(clean_store):
    rows = _touchpoint_rows(200)
    rows[7] = dict(rows[7], ts="not a time")
    asyncio.run(ClickHouseSink(clean_store).insert_rows({TOUCHPOINTS: rows}))
    assert scalar(clean_store, "SELECT count() FROM cx.v_touchpoints") == len(rows) - 1
    (reason,) = [r for (r,) in clean_store.query(f"SELECT reason FROM {DLQ}")[1]]
    assert reason.startswith("ClickHouse refused the row:") and "Code: 41." in reason and "CANNOT_PARSE_DATETIME" in reason


def test_an_outage_is_waited_out_and_nothing_is_dead_lettered(clean_store):
    rows = _touchpoint_rows(200)
    down = Outage(clean_store, seconds=2.0)
    sink = ClickHouseSink(down, max_backoff=0.5)
    started = time.monotonic()
    asyncio.run(sink.insert_rows({TOUCHPOINTS: rows}))
    assert time.monotonic() - started >= 2.0 and sink.outage_retries == down.refused >= 2
    assert scalar(clean_store, "SELECT count() FROM cx.v_touchpoints") == len(rows)
    assert scalar(clean_store, f"SELECT count() FROM {DLQ}") == 0


def test_the_stream_rides_out_a_clickhouse_outage(settings, clean_store):
    """Through the real worker: ClickHouse writes fail for the first 8 s; every valid event lands once
    afterwards and the DLQ holds only the malformed input."""
    workload = generate(1500, seed=11, malformed=10)
    down = Outage(clean_store, seconds=8.0)
    started = time.monotonic()
    result = asyncio.run(feed_and_wait(settings, down, workload.lines, stall_timeout=120))
    caught_up = time.monotonic() - started
    assert down.refused > 0
    assert scalar(clean_store, "SELECT count() FROM cx.v_touchpoints") == workload.touchpoints
    assert scalar(clean_store, "SELECT count() FROM cx.v_reviews") == workload.reviews
    assert scalar(clean_store, f"SELECT count() FROM {DLQ}") == result.fed.invalid == 10
    assert caught_up > 8.0
