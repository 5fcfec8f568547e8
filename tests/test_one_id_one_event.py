"""One id, one event: a message reusing an id for different content is dead-lettered with the first
use in its reason; a redelivery (same content) lands again harmlessly. In a batch, across batches
(looked up in ClickHouse), through the real stream, and through an outage of the lookup."""

from __future__ import annotations

import asyncio
import json
import time

from pipeline.events import parse_touchpoint
from pipeline.generate import generate
from pipeline.identity import FirstUse, content_hash, first_uses
from pipeline.landing import Message, land_reviews, land_touchpoints
from pipeline.store.base import scalar
from pipeline.store.tables import DLQ, EVENT_IDS, REVIEWS, TOUCHPOINTS
from streams.demo import feed_and_wait
from streams.sinks.clickhouse import ClickHouseSink

from harness.faults import Outage

TP = {
    "event_id": "E1", "case_id": "C1", "customer_id": "U1", "channel": "chat", "kind": "customer_message",
    "actor": "customer", "ts": "2026-11-02T08:00:00+08:00", "text": "等了半小时还没人回复",
}  # fmt: skip
REVIEW = {"review_id": "R1", "customer_id": "U1", "channel": "app", "rating": 2, "text": "回复太慢", "ts": "2026-11-02T09:00:00Z"}


def _msgs(*docs, topic=TOUCHPOINTS, first_offset=0) -> list[Message]:
    return [Message(json.dumps(d, ensure_ascii=False).encode(), topic, 0, first_offset + i) for i, d in enumerate(docs)]


def _ids(landing, table=TOUCHPOINTS, column="event_id") -> list[str]:
    return [r[column] for r in landing.rows.get(table, [])]


def test_in_one_batch_a_redelivery_lands_and_a_reused_id_is_refused_naming_the_first():
    other = {**TP, "text": "问题已经解决了"}
    landing = land_touchpoints(_msgs(TP, TP, other, {**TP, "event_id": "E2"}))
    assert _ids(landing) == ["E1", "E1", "E2"]
    (dead,) = landing.rows[DLQ]
    assert dead["kafka_offset"] == 2
    assert dead["reason"] == f"id 'E1' already names a different event ({TOUCHPOINTS} partition 0 offset 0): one id, one event"
    assert json.loads(dead["payload"])["text"] == "问题已经解决了"
    assert [key for key, _ in landing.case_feed] == [b"C1", b"C1", b"C1"]  # the refused one never reaches its case
    assert [s["id"] for s in landing.scored] == ["E1", "E1", "E2"]


def test_the_fingerprint_is_the_events_not_its_spelling():
    spaced = json.dumps(dict(reversed(TP.items())), ensure_ascii=False, indent=2).encode()
    landing = land_touchpoints([*_msgs(TP), Message(spaced, TOUCHPOINTS, 0, 1)])
    assert _ids(landing) == ["E1", "E1"] and DLQ not in landing.rows
    explicit_default = {**TP, "priority": "normal"}  # the default, spelled out: the same event
    assert DLQ not in land_touchpoints(_msgs(TP, explicit_default)).rows
    rows = land_touchpoints(_msgs(TP, {**TP, "ts": "2026-11-02T08:00:01+08:00"})).rows
    assert len(rows[DLQ]) == 1, "one second later is another event"


def test_ids_already_landed_are_looked_up_in_clickhouse(clean_store):
    store = clean_store

    def lookup(table, ids):
        return first_uses(store, table, ids)

    def write(landing):
        for table, rows in landing.rows.items():
            store.insert(table, rows)

    first = land_touchpoints(_msgs(TP, {**TP, "event_id": "E2"}, first_offset=10), lookup)
    write(first)
    write(land_reviews(_msgs(REVIEW, topic=REVIEWS, first_offset=5), lookup))
    e1, e2 = (parse_touchpoint(m.value) for m in _msgs(TP, {**TP, "event_id": "E2"}))
    assert first_uses(store, TOUCHPOINTS, ["E1", "E2", "E3"]) == {
        "E1": FirstUse(content_hash(e1), TOUCHPOINTS, 0, 10),
        "E2": FirstUse(content_hash(e2), TOUCHPOINTS, 0, 11),
    }
    assert first_uses(store, REVIEWS, ["R1"])["R1"].offset == 5
    assert first_uses(store, REVIEWS, ["E1"]) == {}, "ids are per table"

    # Later batches: a redelivery lands (no dead letter), other content under the same id does not.
    again = land_touchpoints(_msgs(TP, {**TP, "event_id": "E2", "text": "改过的内容"}, {**TP, "event_id": "E3"}, first_offset=40), lookup)
    assert _ids(again) == ["E1", "E3"]
    assert "(cx.touchpoints partition 0 offset 11)" in again.rows[DLQ][0]["reason"]
    review_again = land_reviews(_msgs(REVIEW, {**REVIEW, "rating": 5}, topic=REVIEWS, first_offset=50), lookup)
    assert _ids(review_again, REVIEWS, "review_id") == ["R1"] and review_again.rows[DLQ][0]["kafka_offset"] == 51
    write(again)
    assert scalar(store, f"SELECT count() FROM {EVENT_IDS} FINAL") == 4  # E1, E2, E3, R1

    # Events landed before the id table existed are not in it: not compared.
    store.insert(TOUCHPOINTS, [{**first.rows[TOUCHPOINTS][0], "event_id": "OLD"}])
    assert _ids(land_touchpoints(_msgs({**TP, "event_id": "OLD", "text": "别的"}), lookup)) == ["OLD"]


def test_the_lookup_waits_out_an_outage(clean_store):
    clean_store.insert(EVENT_IDS, land_touchpoints(_msgs(TP)).rows[EVENT_IDS])
    down = Outage(clean_store, seconds=1.5, reads=True)
    sink = ClickHouseSink(down, max_backoff=0.5)
    started = time.monotonic()
    known = asyncio.run(sink.first_uses(TOUCHPOINTS, ["E1"]))
    assert time.monotonic() - started >= 1.5 and sink.outage_retries == down.refused >= 2
    assert known["E1"].content_hash == content_hash(parse_touchpoint(json.dumps(TP).encode()))


def test_through_the_stream_reused_ids_are_dead_lettered_and_the_first_content_stays(settings, clean_store):
    workload = generate(400, seed=21)
    events = [json.loads(line) for line in workload.lines]
    touchpoints = [e for e in events if "event_id" in e]
    reviews = [e for e in events if "review_id" in e]
    reused = [{**e, "text": f"换了内容 {i}"} for i, e in enumerate(touchpoints[::20])]
    reused += [{**r, "rating": 6 - (r.get("rating") or 3)} for r in reviews[:5] if r.get("rating") not in (None, 3)]
    redelivered = touchpoints[5::20]
    lines = workload.lines + [json.dumps(e, ensure_ascii=False) for e in reused + redelivered]
    result = asyncio.run(feed_and_wait(settings, clean_store, lines, stall_timeout=120, until_live=False))
    assert result.fed.invalid == 0 and result.fed.total == len(lines)

    store = clean_store
    assert scalar(store, "SELECT count() FROM cx.v_touchpoints") == len(touchpoints)
    assert scalar(store, "SELECT count() FROM cx.v_reviews") == len(reviews)
    _, dead = store.query(f"SELECT payload, reason FROM {DLQ}")
    assert len(dead) == len(reused) >= 22
    assert all("already names a different event" in reason for _, reason in dead)
    # The first content stays: no reused text in the table, and each case applied each event once.
    assert scalar(store, "SELECT countIf(text LIKE '换了内容%') FROM cx.touchpoints") == 0
    assert scalar(store, "SELECT sum(events) FROM cx.cases FINAL") == len(touchpoints)
