"""Event contracts: validation, rejection reasons, committed JSON Schemas."""

import json

import pytest

from pipeline.events import Rejected, Review, Touchpoint, parse_review, parse_touchpoint
from pipeline.events.schemas import committed_schema, json_schemas

GOOD = {
    "event_id": "E1", "case_id": "C1", "customer_id": "U1", "channel": "chat",
    "kind": "customer_message", "actor": "customer", "ts": "2026-11-02T08:00:00+08:00",
    "text": "你好，净水器漏水了",
}  # fmt: skip


def test_valid_touchpoint_parses_with_defaults():
    tp = parse_touchpoint(json.dumps(GOOD).encode())
    assert isinstance(tp, Touchpoint)
    assert tp.priority.value == "normal" and tp.attrs == {}
    assert tp.ts.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{oops", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({**GOOD, "channel": "fax"}).encode(), "channel"),
        (json.dumps({**GOOD, "ts": "2026-11-02 08:00:00"}).encode(), "timezone"),
        (json.dumps({**GOOD, "kind": "shouting"}).encode(), "kind"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "case_id"}).encode(), "case_id: Field required"),
        (json.dumps({**GOOD, "surprise": 1}).encode(), "surprise"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
    ],
)
def test_invalid_touchpoints_are_rejected_with_reason(raw, reason):
    result = parse_touchpoint(raw)
    assert isinstance(result, Rejected)
    assert reason in result.reason
    assert result.raw  # the payload is kept


def test_review_rating_bounds():
    base = {"review_id": "R1", "customer_id": "U1", "channel": "app", "text": "很好", "ts": "2026-11-02T08:00:00Z"}
    assert isinstance(parse_review(json.dumps({**base, "rating": 5})), Review)
    bad = parse_review(json.dumps({**base, "rating": 6}))
    assert isinstance(bad, Rejected) and "rating" in bad.reason


def test_committed_schemas_match_models():
    for file_name, text in json_schemas().items():
        committed = committed_schema(file_name)
        assert committed == text, f"{file_name} is stale: run python -m pipeline.events.schemas"
    touchpoint = json.loads(committed_schema("touchpoint.schema.json"))
    assert set(touchpoint["required"]) >= {"event_id", "case_id", "customer_id", "channel", "kind", "actor", "ts"}
