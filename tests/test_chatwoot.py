"""Chatwoot's webhook payloads as touchpoints (pure): the fixtures of one conversation map to the
touchpoints written out by hand, each rule of the mapping, signatures, and any JSON never crashes it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from pipeline.ingest.body import judge
from pipeline.ingest.chatwoot import SIGNATURE_TOLERANCE, TEXT_MAX, NotMapped, _time, map_payload, verify_signature

DATA = Path(__file__).parent / "data" / "chatwoot"
PAYLOADS = json.loads((DATA / "conversation.json").read_text(encoding="utf-8"))
EXPECTED = [json.loads(line) for line in (DATA / "expected.jsonl").read_text(encoding="utf-8").splitlines()]


def _by_event(event: str) -> list[dict]:
    return [copy.deepcopy(p) for p in PAYLOADS if p["event"] == event]


def test_the_conversation_maps_to_the_touchpoints_written_out_by_hand():
    got = [tp for p in PAYLOADS for tp in map_payload(p, "chatwoot").touchpoints]
    assert got == EXPECTED
    assert [tp["kind"] for tp in got] == [
        "contact_opened", "customer_message", "agent_reply", "transfer", "customer_message",
        "agent_reply", "resolved", "customer_message", "reopened",
    ]  # fmt: skip
    # Every one is a valid touchpoint, keyed by its case like `cx produce` keys it.
    for tp in got:
        event = judge("touchpoints", 0, json.dumps(tp, ensure_ascii=False).encode())
        assert event.accepted, event.reason
        assert event.key == b"chatwoot-42"


def test_what_is_not_a_persons_turn_is_ignored_with_its_reason():
    ignored = {p["event"] + ":" + str(p.get("id")): map_payload(p, "chatwoot").ignored for p in PAYLOADS}
    assert ignored["message_created:502"].startswith("a bot's")  # the bot's greeting stops no clock
    assert ignored["message_created:503"].startswith("a private note")
    assert ignored["message_updated:505"].startswith("an edit")
    assert ignored["contact_updated:57"] == "contact_updated: nothing happened on a case"
    first_assignment = _by_event("conversation_updated")[0]
    assert map_payload(first_assignment, "chatwoot").ignored == "no reassignment away from an agent or a team"


def test_a_reassignment_within_the_team_is_a_transfer_and_a_status_to_pending_is_nothing():
    update = _by_event("conversation_updated")[1]
    update["changed_attributes"] = [{"assignee_id": {"previous_value": 12, "current_value": 13}}]
    (tp,) = map_payload(update, "cw").touchpoints
    assert (tp["kind"], tp["attrs"]["from_agent_id"], tp["attrs"]["to_agent_id"]) == ("transfer", "cw-agent-12", "cw-agent-13")
    assert "to_department" not in tp["attrs"]  # the team did not change
    pending = _by_event("conversation_status_changed")[0]
    pending["changed_attributes"] = [{"status": {"previous_value": "open", "current_value": "pending"}}]
    pending["status"] = "pending"
    assert map_payload(pending, "cw").ignored == "status open -> pending: no case event"


def test_ids_are_chatwoots_so_a_payload_sent_twice_is_one_event_and_sources_stay_apart():
    twice = [map_payload(p, "chatwoot").touchpoints for p in PAYLOADS + PAYLOADS]
    ids = [tp["event_id"] for tps in twice for tp in tps]
    assert len(set(ids)) == len(EXPECTED) and len(ids) == 2 * len(EXPECTED)
    other = map_payload(PAYLOADS[1], "chatwoot-eu").touchpoints[0]
    assert (other["case_id"], other["customer_id"]) == ("chatwoot-eu-42", "chatwoot-eu-contact-57")


def test_a_message_over_the_contract_limit_keeps_its_start_and_says_so():
    message = _by_event("message_created")[0]
    message["content"] = "很慢" * TEXT_MAX
    (tp,) = map_payload(message, "chatwoot").touchpoints
    assert len(tp["text"]) == TEXT_MAX and tp["attrs"]["text_truncated"] is True
    assert judge("touchpoints", 0, json.dumps(tp, ensure_ascii=False).encode()).accepted


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-03-03 13:05:57 UTC", datetime(2020, 3, 3, 13, 5, 57, tzinfo=UTC)),  # the docs' sample
        ("2021-07-23T18:02:48.000Z", datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)),
        (1627063369, datetime(2021, 7, 23, 18, 2, 49, tzinfo=UTC)),
        (1796119380.25, datetime(2026, 12, 1, 10, 3, 0, 250000, tzinfo=UTC)),
        ("Tue Mar 03 2020", None),
        (True, None),
        (10**20, None),
    ],
)
def test_chatwoots_time_formats(value, expected):
    assert _time(value) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "a JSON object"),
        ({"id": 1}, "no 'event' name"),
        ({"event": "message_created", "id": 1}, "without its conversation"),
        ({"event": "conversation_created", "meta": {"sender": {"id": 1}}}, "no id"),
        ({"event": "conversation_created", "id": 4}, "names no contact"),
        ({"event": "conversation_created", "id": 4, "contact_inbox": {"contact_id": 9}}, "without created_at"),
    ],
)
def test_what_the_mapping_needs_and_lacks_is_named(payload, reason):
    with pytest.raises(NotMapped, match=reason):
        map_payload(payload, "chatwoot")


def _sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_chatwoots_signature_is_checked_on_the_raw_body_with_a_replay_window():
    body = json.dumps(PAYLOADS[1], ensure_ascii=False).encode()
    now = 1_796_119_400
    ts = str(now - 10)
    good = _sign("s3cret", ts, body)
    assert verify_signature("s3cret", body, ts, good, now) is None
    assert "does not match" in verify_signature("other", body, ts, good, now)
    assert "does not match" in verify_signature("s3cret", body.replace("订单".encode(), "包裹".encode()), ts, good, now)
    old = str(now - SIGNATURE_TOLERANCE - 1)
    assert "replayed" in verify_signature("s3cret", body, old, _sign("s3cret", old, body), now)
    assert "required" in verify_signature("s3cret", body, None, good, now)
    assert "Unix time" in verify_signature("s3cret", body, "yesterday", good, now)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
READ = ["conversation", "meta", "sender", "assignee", "team", "name", "id", "contact_inbox", "contact_id", "created_at",
        "updated_at", "timestamp", "changed_attributes", "status", "message_type", "private", "content", "channel", "priority", "type"]  # fmt: skip
KEYS = st.sampled_from(READ) | st.text(max_size=12)
EVENTS = st.sampled_from(["conversation_created", "message_created", "conversation_status_changed", "conversation_updated", "x"])


@hsettings(max_examples=300, deadline=None)
@given(base=st.sampled_from(PAYLOADS), path=st.lists(KEYS, min_size=1, max_size=3), value=JSON, event=EVENTS)
def test_any_damage_to_a_payload_maps_or_names_what_is_missing(base, path, value, event):
    payload = copy.deepcopy(base)
    payload["event"] = event
    target = payload
    for key in path[:-1]:  # graft `value` somewhere, possibly over what the mapping reads
        nxt = target.get(key) if isinstance(target, dict) else None
        if not isinstance(nxt, dict):
            break
        target = nxt
    if isinstance(target, dict):
        target[path[-1]] = value
    try:
        mapped = map_payload(payload, "chatwoot")
    except NotMapped as exc:
        assert str(exc)
        return
    for tp in mapped.touchpoints:
        json.dumps(tp, ensure_ascii=False)  # always encodable; validity is judged by the contract's models
