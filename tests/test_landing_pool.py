"""Landing in worker processes gives what landing in the worker process gives, and one id still
names one event across a batch landed but not written yet, ids spelled oddly included."""

from __future__ import annotations

import asyncio
import json

import pytest

from pipeline.generate import generate
from pipeline.identity import FirstUse
from pipeline.landing import Message, land_reviews, land_touchpoints
from streams.pools.landing import LandingPool, candidate_ids, first_uses_in
from pipeline.store.tables import DLQ, REVIEWS, TOUCHPOINTS

TP = {
    "event_id": "E1", "case_id": "C1", "customer_id": "U1", "channel": "chat", "kind": "customer_message",
    "actor": "customer", "ts": "2026-11-02T08:00:00+08:00", "text": "等了半小时还没人回复",
}  # fmt: skip


def _msgs(*docs, first_offset=0) -> list[Message]:
    return [Message(json.dumps(d, ensure_ascii=False).encode(), TOUCHPOINTS, 0, first_offset + i) for i, d in enumerate(docs)]


class Lookups:
    """A lookup that remembers what it was asked (ClickHouse in the stream; here, what is given)."""

    def __init__(self, landed: dict[str, FirstUse] | None = None):
        self.landed = landed or {}
        self.asked: list[list[str]] = []

    async def __call__(self, table: str, ids) -> dict[str, FirstUse]:
        self.asked.append(list(ids))
        return {i: self.landed[i] for i in ids if i in self.landed}


@pytest.fixture(scope="module")
def pool():
    pool = LandingPool(1)
    yield pool
    pool.close()


def test_a_worker_process_lands_a_generated_batch_exactly_as_this_process_does(pool):
    lines = generate(600, seed=11, malformed=6).lines
    touch = [Message(ln.encode(), TOUCHPOINTS, 1, i) for i, ln in enumerate(lines) if '"review_id"' not in ln]
    reviews = [Message(ln.encode(), REVIEWS, 2, i) for i, ln in enumerate(lines) if '"review_id"' in ln]
    for table, messages, land in ((TOUCHPOINTS, touch, land_touchpoints), (REVIEWS, reviews, land_reviews)):
        there = asyncio.run(pool.land(table, messages, Lookups()))
        here = land(messages)
        assert there.rows == here.rows and there.case_feed == here.case_feed
        assert there.scored == here.scored and there.dead_letters == here.dead_letters
    assert len(there.rows[REVIEWS]) > 30 and any(r["aspects"] for r in there.rows[REVIEWS])


def test_an_id_reused_in_the_next_batch_before_the_first_is_written_is_refused(pool):
    first = asyncio.run(pool.land(TOUCHPOINTS, _msgs(TP, {**TP, "event_id": "E2"}), Lookups()))
    assert DLQ not in first.rows
    earlier = first_uses_in(first, TOUCHPOINTS)
    assert set(earlier) == {"E1", "E2"} and earlier["E1"].offset == 0
    again = {**TP, "text": "问题已经解决了"}
    second = asyncio.run(pool.land(TOUCHPOINTS, _msgs(again, TP, first_offset=10), Lookups(), earlier))
    (dead,) = second.rows[DLQ]
    assert dead["kafka_offset"] == 10 and "partition 0 offset 0" in dead["reason"]
    assert [r["event_id"] for r in second.rows[TOUCHPOINTS]] == ["E1"], "the same content again is a redelivery"


def test_what_clickhouse_holds_came_before_a_batch_in_hand(pool):
    landed = {"E1": FirstUse(123, TOUCHPOINTS, 3, 7)}
    in_hand = {"E1": FirstUse(456, TOUCHPOINTS, 0, 99)}
    landing = asyncio.run(pool.land(TOUCHPOINTS, _msgs(TP), Lookups(landed), in_hand))
    (dead,) = landing.rows[DLQ]
    assert "partition 3 offset 7" in dead["reason"]


def test_an_id_validation_spells_differently_is_looked_up_too(pool):
    # Python's strip() removes \x1c (a separator); validation keeps it: neither raw nor stripped
    # form is the id the event gets, so the batch comes back once for that id to be looked up.
    odd = "\x1c E9 "
    assert candidate_ids(_msgs({**TP, "event_id": odd}), "event_id") == [odd, "E9"]
    lookups = Lookups({"\x1c E9": FirstUse(1, TOUCHPOINTS, 5, 5)})
    landing = asyncio.run(pool.land(TOUCHPOINTS, _msgs({**TP, "event_id": odd}), lookups))
    assert len(lookups.asked) == 2 and "\x1c E9" in lookups.asked[1]
    (dead,) = landing.rows[DLQ]
    assert "partition 5 offset 5" in dead["reason"]


def test_candidate_ids_skip_what_is_no_json_object_and_no_possible_id():
    messages = [Message(b"{broken", TOUCHPOINTS, 0, 0), Message(b"[1]", TOUCHPOINTS, 0, 1), *_msgs({**TP, "event_id": " E5 "})]
    assert candidate_ids(messages, "event_id") == [" E5 ", "E5"]
    hostile = [b'{"event_id": "\\ud800x"}', json.dumps({"event_id": "x" * 129}).encode(), b'{"event_id": "   "}']
    assert candidate_ids([Message(v, TOUCHPOINTS, 0, i) for i, v in enumerate(hostile)], "event_id") == ["   "]


def test_candidate_ids_read_what_the_fast_parser_refuses_as_the_standard_library_does():
    # Not strict UTF-8 JSON (orjson refuses each), yet the standard library reads an id from it.
    odd = [
        json.dumps({"event_id": "E1"}).encode("utf-16"),
        b'{"event_id": "E2", "attrs": {"x": NaN}}',
        b"\xef\xbb\xbf" + json.dumps({"event_id": "E3"}).encode(),
        b'{"event_id": "E4", "n": 1e400}',
    ]
    assert candidate_ids([Message(v, TOUCHPOINTS, 0, i) for i, v in enumerate(odd)], "event_id") == ["E1", "E2", "E3", "E4"]


def test_in_a_thread_it_is_the_same_function():
    pool = LandingPool(0)
    try:
        landing = asyncio.run(pool.land(TOUCHPOINTS, _msgs(TP, {**TP, "text": "别的"}), Lookups()))
    finally:
        pool.close()
    assert len(landing.rows[DLQ]) == 1 and pool.processes == 0
