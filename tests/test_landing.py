"""Batch landing without a broker: valid rows, dead letters, scores."""

import json
from datetime import UTC, datetime, timedelta

from pipeline.landing import Message, land_reviews, land_touchpoints

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
