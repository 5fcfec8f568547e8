"""The case logic's unvalidated builders (`Frozen.trusted`, `Frozen.evolve`) give what validation gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.cases.rows import Response
from pipeline.cases.state import CaseState, Deadline, Summary
from pipeline.events.models import Channel, Priority
from pipeline.sla.policy import Rule

T0 = datetime(2026, 11, 2, 1, 2, 3, 456000, tzinfo=UTC)
SUMMARY = {
    "last_event_at": T0 + timedelta(minutes=5),  # given out of the schema's order on purpose
    "customer_id": "U1",
    "channel": Channel.chat,
    "priority": Priority.high,
    "opened_at": T0,
    "messages": 2,
    "first_sentiment": 0.25,
}


def test_trusted_is_the_validated_model_with_the_same_json():
    built, validated = Summary.trusted(SUMMARY), Summary.model_validate(SUMMARY)
    assert built == validated
    assert built.dump() == validated.dump()  # fields in the schema's order, defaults left out
    assert built.model_dump_json() == validated.model_dump_json()


def test_trusted_rows_and_deadlines_match_too():
    deadline = {
        "alert_id": "a",
        "rule": Rule.first_response,
        "started_at": T0,
        "deadline": T0 + timedelta(minutes=1),
        "channel": Channel.chat,
        "limit_ms": 60_000,
        "detail": "chat: reply within 1m",
    }
    assert Deadline.trusted(deadline).dump() == Deadline.model_validate(deadline).dump()
    response = {
        "case_id": "C1",
        "kind": "first",
        "channel": Channel.email,
        "priority": Priority.normal,
        "customer_id": "U1",
        "asked_at": T0,
        "answered_at": T0 + timedelta(hours=1),
        "wait_ms": 3_600_000,
        "business_wait_ms": 0,
        "limit_ms": None,
        "within_sla": None,
        "asked_event_id": "e1",
        "answered_event_id": "e2",
        "agent_id": "A1",
        "department": None,
    }
    assert Response.trusted(response).row() == Response.model_validate(response).row()


def test_trusted_refuses_a_missing_field_and_models_with_default_lists():
    with pytest.raises(ValueError, match="customer_id"):
        Summary.trusted({k: v for k, v in SUMMARY.items() if k != "customer_id"})
    with pytest.raises(TypeError, match="default factories"):
        CaseState.trusted({"case_id": "C1"})  # its lists would be shared by every state built


def test_evolve_is_model_copy_with_the_changes():
    summary = Summary.model_validate(SUMMARY)
    changed = summary.evolve(messages=3, status="resolved")
    assert changed == summary.model_copy(update={"messages": 3, "status": "resolved"})
    assert changed.dump() == Summary.model_validate({**SUMMARY, "messages": 3, "status": "resolved"}).dump()
    assert summary.messages == 2  # the original is untouched
