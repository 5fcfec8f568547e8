"""Batch landing without a broker: valid rows, dead letters, scores."""

import json
from datetime import UTC, datetime, timedelta

from pipeline.cases.state import CaseEvent, Entry
from pipeline.events import Touchpoint
from pipeline.cases.feed import pack_case_events, read_case_event, read_case_events
from pipeline.landing import Message, land_reviews, land_touchpoints, wants_more

TP = {
    "event_id": "E1", "case_id": "C1", "customer_id": "U1", "channel": "phone", "kind": "customer_message",
    "actor": "customer", "ts": "2026-11-02T08:00:00.250+08:00", "text": "师傅态度很好，问题一次就解决了",
    "attrs": {"queue": "vip"},
}  # fmt: skip


def _msgs(*values, topic="cx.touchpoints"):
    return [Message(v if isinstance(v, bytes) else json.dumps(v).encode(), topic, 0, i) for i, v in enumerate(values)]


def test_valid_neighbours_of_a_bad_message_are_unaffected():
    reply = {**TP, "event_id": "E2", "kind": "agent_reply", "actor": "agent", "agent_id": "A7", "text": "好的"}
    landing = land_touchpoints(_msgs(TP, b"{broken", reply))
    rows = landing.rows["cx.touchpoints"]
    assert [r["event_id"] for r in rows] == ["E1", "E2"]
    assert len(landing.rows["cx.dlq"]) == 1 and len(landing.dead_letters) == 1
    dlq = landing.rows["cx.dlq"][0]
    assert dlq["kafka_offset"] == 1 and dlq["payload"] == "{broken" and dlq["reason"].startswith("not JSON")
    first = rows[0]
    # Rows carry aware UTC datetimes (one convention for chdb and the server driver).
    assert first["ts"] == datetime(2026, 11, 2, 0, 0, 0, 250000, tzinfo=UTC) and first["ts"].utcoffset() == timedelta(0)
    assert 0.0 <= first["sentiment"] <= 1.0 and rows[1]["sentiment"] is None
    assert json.loads(first["attrs"]) == {"queue": "vip"}
    assert [s["id"] for s in landing.scored] == ["E1"]


def test_reviews_get_text_analytics_and_position():
    review = {"review_id": "R1", "customer_id": "U1", "channel": "app", "rating": 5,
              "text": "客服态度很好，回复很及时", "ts": "2026-11-02T08:00:00Z", "source": "survey"}  # fmt: skip
    landing = land_reviews(_msgs(review, {"review_id": "R2"}, topic="cx.reviews"))
    (row,) = landing.rows["cx.reviews"]
    assert row["review_id"] == "R1" and row["kafka_topic"] == "cx.reviews" and row["kafka_offset"] == 0
    assert row["label"] in ("positive", "negative") and row["tokens"] and 0 <= row["sentiment"] <= 1
    assert landing.rows["cx.dlq"][0]["reason"].startswith("invalid review")


def test_the_case_feed_carries_what_the_case_logic_keeps_and_no_text():
    transfer = {**TP, "event_id": "E2", "kind": "transfer", "actor": "agent", "agent_id": "A7", "text": "转给 13812345678",
                "attrs": {"to_agent_id": "A9"}}  # fmt: skip
    landing = land_touchpoints(_msgs(TP, transfer))
    (k1, v1), (k2, v2) = landing.case_feed
    assert (k1, k2) == (b"C1", b"C1")
    assert "师傅" not in v1.decode() and "138" not in v2.decode()  # free text (and any PII in it) stays out
    first, second = read_case_event(v1), read_case_event(v2)
    scored = landing.rows["cx.touchpoints"][0]["sentiment"]
    assert first == CaseEvent(case_id="C1", entry=Entry.of(Touchpoint.model_validate(TP), scored))
    assert second.entry.to_agent_id == "A9" and second.entry.sentiment is None


def test_case_feed_packs_keep_every_event_in_order_within_their_size():
    text = {**TP, "text": "师傅" * 300}  # the feed drops the text: events are small whatever it holds
    landing = land_touchpoints(_msgs(*({**text, "event_id": f"E{i:02d}"} for i in range(40))))
    values = [v for _, v in landing.case_feed]
    packs = pack_case_events(values, limit=3 * len(values[0]) + 3)
    assert [len(read_case_events(p)) for p in packs] == [3] * 13 + [1]
    assert [e.entry.event_id for p in packs for e in read_case_events(p)] == [f"E{i:02d}" for i in range(40)]
    assert all(len(p) <= 3 * len(values[0]) + 3 for p in packs)
    (whole,) = pack_case_events(values)
    assert read_case_events(whole) == [read_case_event(v) for v in values]
    assert pack_case_events(values[:1], limit=10) == values[:1]  # an event over the limit goes alone
    assert read_case_events(values[0]) == [read_case_event(values[0])]  # a message of one event (before packs)


def test_the_case_feed_written_before_the_upgrade_still_reads():
    # The feed once carried the whole touchpoint; a topic may hold such messages after an upgrade.
    old = json.dumps({"event": Touchpoint.model_validate(TP).model_dump(mode="json"), "sentiment": 0.9}).encode()
    assert read_case_event(old) == CaseEvent.of(Touchpoint.model_validate(TP), 0.9)


def test_a_batch_waits_for_more_only_while_the_rest_of_a_catch_up_batch_waits():
    assert wants_more(500, unread=1500, batch_size=500, catch_up_batch_size=2000)
    assert wants_more(1500, unread=10_000, batch_size=500, catch_up_batch_size=2000)
    assert wants_more(1500, unread=500, batch_size=500, catch_up_batch_size=2000)
    assert not wants_more(2000, unread=10_000, batch_size=500, catch_up_batch_size=2000)  # full
    assert not wants_more(1800, unread=10_000, batch_size=500, catch_up_batch_size=2000)  # would overshoot
    assert not wants_more(500, unread=1499, batch_size=500, catch_up_batch_size=2000)  # a burst, not a backlog
    assert not wants_more(120, unread=0, batch_size=500, catch_up_batch_size=2000)  # the flush window's take
    assert not wants_more(500, unread=10_000, batch_size=500, catch_up_batch_size=500)  # joining off
