"""Case logic event by event: clocks, exactly-once, late events, measures, rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import count

import pytest

from pipeline.cases import CaseState, DueIndex, Step, Watermark, advance, apply, case_row
from pipeline.events import Touchpoint
from pipeline.sla import SlaPolicy, load_policy

POLICY = load_policy()
_ids = count(1)


def at(hms: str, day: str = "2025-03-10") -> datetime:
    return datetime.fromisoformat(f"{day}T{hms}+08:00")


def tp(
    kind: str,
    hms: str,
    actor: str | None = None,
    channel: str = "chat",
    case: str = "CASE-T-1",
    day: str = "2025-03-10",
    **extra,
) -> Touchpoint:
    if actor is None:
        actor = "customer" if kind in ("contact_opened", "customer_message") else "agent"
    return Touchpoint(
        event_id=f"tp-t-{next(_ids):05d}",
        case_id=case,
        customer_id="cus-1",
        channel=channel,
        kind=kind,
        actor=actor,
        ts=at(hms, day),
        **extra,
    )


def run(events, policy: SlaPolicy = POLICY, now=None) -> Step:
    """Apply events in the given order with the clock held back, then (if given) advance to `now`."""
    step = apply(None, events[0], policy)
    for e in events[1:]:
        step = step.then(apply(step.state, e, policy))
    return step.then(advance(step.state, now)) if now is not None else step


def test_breach_fires_when_the_deadline_passes_not_when_the_reply_comes():
    s = run([tp("contact_opened", "10:00:00")]).state
    assert s.next_due == at("10:01:00")
    assert advance(s, at("10:00:59")).alerts == []
    fired = advance(s, at("10:01:20"))
    (breach,) = fired.alerts
    assert (breach.rule, breach.status, breach.detected_at, breach.waited_ms) == (
        "first_response",
        "breach",
        at("10:01:20"),
        80_000,
    )
    assert fired.state.next_due is not None and fired.state.next_due > at("10:01:20")  # resolution still runs
    assert advance(fired.state, at("10:05:00")).alerts == []  # exactly once
    late = apply(fired.state, tp("agent_reply", "10:02:00"), POLICY)
    (recovery,) = late.alerts
    assert (recovery.status, recovery.alert_id, recovery.waited_ms) == ("recovery", breach.alert_id, 120_000)
    assert case_row(late.state)["open_breaches"] == 0 and case_row(late.state)["breaches"] == 1


def test_reply_in_time_raises_nothing_and_leaves_no_reply_deadline():
    step = run([tp("contact_opened", "10:00:00"), tp("agent_reply", "10:00:45", agent_id="ag-1")])
    assert step.alerts == []
    assert [d.rule for d in step.state.pending] == ["resolution"]
    (r,) = step.responses
    assert (r.kind, r.wait_ms, r.within_sla, r.limit_ms, r.agent_id) == (
        "first",
        45_000,
        True,
        60_000,
        "ag-1",
    )


def test_late_reply_before_the_clock_noticed_is_still_a_breach_with_recovery():
    # The watermark trails by 30 s: a reply 10 s late can arrive before the clock passes the deadline.
    step = run([tp("contact_opened", "10:00:00"), tp("agent_reply", "10:01:10")])
    assert [(a.rule, a.status) for a in step.alerts] == [
        ("first_response", "breach"),
        ("first_response", "recovery"),
    ]
    assert step.alerts[0].detected_at == at("10:01:10")


def test_live_false_alarm_from_an_in_time_reply_that_arrived_late_is_retracted():
    s = run([tp("contact_opened", "10:00:00")]).state
    s = advance(s, at("10:01:00")).state  # wall clock reaches the deadline; the reply is in flight
    step = apply(s, tp("agent_reply", "10:00:58"), POLICY, arrived=at("10:15:58"))
    (retraction,) = step.alerts
    assert retraction.status == "retracted" and "arrived late" in retraction.detail
    assert retraction.raised_at == at("10:01:00"), "when the false breach was raised"
    assert retraction.late_ms == 15 * 60_000, "how far behind the clock the reply arrived"
    assert retraction.ended_at == at("10:00:58") and retraction.event_id == step.state.log[-1].event_id
    assert step.state.breaches == 0 and case_row(step.state)["open_breaches"] == 0
    # Told once: the same reply again changes nothing.
    assert apply(step.state, tp("agent_reply", "10:00:58"), POLICY).alerts == []


def test_reply_arriving_before_the_message_it_answers():
    opened = tp("contact_opened", "10:00:00", actor="system")
    reply, message = tp("agent_reply", "10:00:30"), tp("customer_message", "10:00:05")
    step = run([opened, reply, message])
    assert step.alerts == []
    assert [(r.kind, r.wait_ms) for r in step.responses] == [("first", 25_000)]
    assert step.state.summary.waiting_since is None


def test_earlier_message_arriving_late_corrects_the_response_rows_and_supersedes_the_alert():
    s = run([tp("contact_opened", "10:00:00", actor="system"), tp("customer_message", "10:00:40")]).state
    s = advance(s, at("10:01:40")).state  # live clock: breach of the 10:01:40 deadline
    # The real first message arrives late; the clock has moved on to 10:01:45.
    step = apply(s, tp("customer_message", "10:00:20"), POLICY, now=at("10:01:45"))
    assert {(a.status, a.deadline) for a in step.alerts} == {
        ("retracted", at("10:01:40")),
        ("breach", at("10:01:20")),
    }
    reply = apply(step.state, tp("agent_reply", "10:02:00"), POLICY)
    assert sorted((r.kind, r.wait_ms) for r in reply.responses) == [("first", 100_000), ("next", 80_000)]


def test_a_turn_runs_from_the_first_unanswered_message():
    step = run(
        [
            tp("contact_opened", "14:00:00"),
            tp("agent_reply", "14:00:10"),
            tp("customer_message", "14:01:00"),
            tp("customer_message", "14:02:30"),
            tp("agent_reply", "14:03:30"),
        ]
    )
    deadlines = {a.deadline for a in step.alerts}
    assert deadlines == {at("14:03:00")}  # one next_reply breach for the turn, not one per message
    assert [(r.kind, r.wait_ms, r.within_sla) for r in step.responses[1:]] == [
        ("next", 150_000, False),
        ("next", 60_000, True),
    ]


def test_channel_without_a_limit_is_measured_but_never_breached():
    step = run(
        [tp("contact_opened", "10:00:00", channel="field"), tp("agent_reply", "11:00:00", channel="field")],
        now=at("12:00:00"),
    )
    assert step.alerts == []
    assert step.responses[0].limit_ms is None and step.responses[0].within_sla is None


def test_third_transfer_is_a_breach_as_soon_as_the_clock_reaches_it():
    events = [
        tp("contact_opened", "10:00:00", channel="phone"),
        tp("agent_reply", "10:00:05", channel="phone"),
        tp("transfer", "10:01:00", agent_id="ag-2", department="技术支持部"),
        tp("transfer", "10:02:00", attrs={"to_agent_id": "ag-3", "to_department": "账务部"}, agent_id="ag-2"),
        tp("transfer", "10:03:00", agent_id="ag-4", department="售后服务部"),
        tp("transfer", "10:04:00", agent_id="ag-5", department="售后服务部"),
    ]
    step = run(events[:4], now=at("10:04:00"))
    assert (
        step.alerts == []
        and step.state.summary.department == "账务部"
        and step.state.summary.owner_agent_id == "ag-3"
    )
    step = run(events, now=at("10:04:00"))
    (breach,) = step.alerts
    assert (breach.rule, breach.deadline, breach.limit_ms) == ("handoffs", at("10:03:00"), None)
    assert step.state.summary.handoffs == 4 and step.state.summary.owner_agent_id == "ag-5"


def test_promise_kept_and_broken_are_counted():
    events = [
        tp("contact_opened", "09:00:00", channel="phone"),
        tp("agent_reply", "09:00:10", channel="phone"),
        tp("promise", "09:01:00", promised_by=at("12:00:00")),
        tp("resolved", "11:00:00"),
        tp("reopened", "13:00:00", actor="customer"),
        tp("promise", "13:05:00", promised_by=at("15:00:00")),
        tp("resolved", "16:00:00"),
    ]
    step = run(events, now=at("16:00:00"))
    s = step.state.summary
    assert (s.promises, s.promises_kept, s.promises_broken) == (2, 1, 1)
    assert [(a.rule, a.status) for a in step.alerts] == [("promise", "breach"), ("promise", "recovery")]
    assert (s.reopens, s.recontacts, s.status) == (1, 1, "resolved")


def test_reopen_restarts_resolution_and_moves_the_follow_up():
    events = [
        tp("contact_opened", "09:00:00", priority="high"),
        tp("agent_reply", "09:00:30"),
        tp("resolved", "10:00:00"),
        tp("reopened", "11:00:00", actor="customer"),
    ]
    s = run(events).state
    rules = {(d.rule.value, d.deadline) for d in s.pending}
    assert ("resolution", at("15:00:00")) in rules  # 4 h from the reopen
    assert not any(r == "follow_up" for r, _ in rules)
    s = run([*events, tp("resolved", "12:00:00")]).state
    assert ("follow_up", at("12:00:00", "2025-03-13")) in {(d.rule.value, d.deadline) for d in s.pending}
    row = case_row(s)
    assert row["resolved_at"] == at("10:00:00") and row["last_resolved_at"] == at("12:00:00")
    assert row["resolution_ms"] == 3_600_000


def test_follow_up_done_in_time():
    s = run(
        [
            tp("contact_opened", "09:00:00"),
            tp("resolved", "10:00:00"),
            tp("follow_up", "10:00:00", day="2025-03-12", channel="phone"),
        ]
    ).state
    assert s.summary.follow_up_done is True and not [d for d in s.pending if d.rule == "follow_up"]


def test_escalation_to_high_tightens_the_resolution_deadline():
    s = run([tp("contact_opened", "09:00:00", priority="low")]).state
    assert [d.deadline for d in s.pending if d.rule == "resolution"] == [at("09:00:00", "2025-03-13")]
    s = apply(s, tp("customer_message", "09:30:00", priority="high"), POLICY).state
    assert [d.deadline for d in s.pending if d.rule == "resolution"] == [at("13:00:00")]
    # A later event without a priority (the contract's default, normal) does not undo it.
    s = apply(s, tp("agent_reply", "09:30:30"), POLICY).state
    assert s.summary.priority == "high"


def test_sentiment_first_and_last_and_recontact_after_resolution():
    events = [
        tp("contact_opened", "09:00:00"),
        tp("customer_message", "09:00:05"),
        tp("agent_reply", "09:00:30"),
        tp("resolved", "09:10:00"),
        tp("customer_message", "09:20:00"),
        tp("customer_message", "09:21:00"),
    ]
    state = None
    for e, sentiment in zip(events, [None, 0.1, None, None, 0.8, 0.9], strict=True):
        state = apply(state, e, POLICY, sentiment=sentiment).state
    s = state.summary
    assert (s.first_sentiment, s.last_sentiment, s.recontacts, s.messages) == (0.1, 0.9, 1, 4)


def test_resolution_ends_the_wait_for_a_reply():
    step = run([tp("contact_opened", "10:00:00"), tp("resolved", "10:00:30")], now=at("10:05:00"))
    assert step.alerts == [] and step.responses == []
    assert step.state.summary.waiting_since is None


def test_duplicate_event_changes_nothing():
    e = tp("contact_opened", "10:00:00")
    first = apply(None, e, POLICY)
    again = apply(first.state, e, POLICY)
    assert again.state == first.state and again.case is None and again.alerts == []


def test_event_for_another_case_is_refused():
    s = apply(None, tp("contact_opened", "10:00:00"), POLICY).state
    with pytest.raises(ValueError):
        apply(s, tp("agent_reply", "10:00:10", case="CASE-OTHER"), POLICY)


def test_state_round_trips_through_json_text():
    step = run(
        [
            tp("contact_opened", "10:00:00"),
            tp("promise", "10:00:20", promised_by=at("18:00:00")),
            tp("customer_message", "10:00:30", attrs={"x": 1}),
        ],
        now=at("10:02:00"),
    )
    text = json.dumps(step.state.to_json(), ensure_ascii=False)
    restored = CaseState.from_json(json.loads(text))
    assert restored == step.state and restored.next_due == step.state.next_due
    assert advance(restored, at("19:00:00")).alerts == advance(step.state, at("19:00:00")).alerts


def test_priority_override_in_policy():
    data = POLICY.model_dump()
    data["first_response"]["chat"] = {"within": "60s", "by_priority": {"high": "20s"}}
    policy = SlaPolicy.model_validate(data)
    s = apply(None, tp("contact_opened", "10:00:00", priority="high"), policy).state
    assert [d.deadline for d in s.pending if d.rule == "first_response"] == [at("10:00:20")]


def test_watermark_trails_and_never_goes_back():
    wm = Watermark(lateness=timedelta(seconds=30))
    assert wm.now() is None
    assert wm.observe(at("10:00:30")) == at("10:00:00")
    assert wm.observe(at("10:00:10")) == at("10:00:00")  # a late event does not move it back
    assert Watermark.model_validate(json.loads(wm.model_dump_json())).now() == at("10:00:00")


def test_due_index_returns_each_due_case_once_and_follows_updates():
    idx = DueIndex()
    idx.set("a", at("10:00:00"))
    idx.set("b", at("10:05:00"))
    idx.set("a", at("10:10:00"))  # moved later: the old entry must not fire
    assert idx.pop_due(at("10:06:00")) == ["b"]
    assert idx.pop_due(at("10:06:00")) == []
    idx.set("a", None)
    assert idx.pop_due(at("23:00:00")) == [] and len(idx) == 0


def test_escalation_under_a_policy_without_a_high_limit():
    data = POLICY.model_dump()
    del data["resolution"]["high"]
    policy = SlaPolicy.model_validate(data)
    s = apply(None, tp("contact_opened", "09:00:00"), policy).state
    s = apply(s, tp("resolved", "09:30:00", priority="high"), policy).state
    assert s.summary.priority == "high" and not [d for d in s.pending if d.rule == "resolution"]


def test_a_wait_ended_late_by_the_events_so_far_waits_for_the_clock_before_it_breaches():
    # Found by the order property (tests/cases/test_order.py): a resolution read from one input
    # partition before the reply from another ended the first-response wait "late" and breached at
    # once; the reply, read next, proved it in time. The clock had not reached the deadline: wait.
    opened = apply(None, tp("contact_opened", "10:00:00"), POLICY, clocked=True, arrived=None).state
    resolved = apply(opened, tp("resolved", "14:00:00", actor="agent"), POLICY, clocked=True, arrived=at("09:59:00"))
    assert [a for a in resolved.alerts if a.rule.value == "first_response"] == []
    reply = apply(resolved.state, tp("agent_reply", "10:00:30", actor="agent"), POLICY, clocked=True, arrived=at("09:59:10"))
    assert [a for a in reply.alerts if a.rule.value == "first_response"] == []
    # Had the reply never come, the clock passing the deadline raises the breach and its recovery together.
    late = advance(resolved.state, at("10:02:00"))
    assert [(a.rule.value, a.status) for a in late.alerts if a.rule.value == "first_response"] == [
        ("first_response", "breach"),
        ("first_response", "recovery"),
    ]
