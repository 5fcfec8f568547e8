"""Routing, rate limits, digests and escalation (pure logic, clock passed in)."""

from datetime import timedelta

from pipeline.alerts import Dispatcher
from pipeline.alerts.notice import Key

from .helpers import T0, make_alert, subscribers

ONE = """
subscribers:
  - name: ops
    channel: webhook
    url: http://127.0.0.1:1/hook
    rate_limit_per_minute: {rate}
    rules: [first_response, next_reply]
    channels: [chat]
"""
ESCALATING = """
subscribers:
  - name: leads
    channel: webhook
    url: http://127.0.0.1:1/hook
    escalate_after: 15
    escalate_to: duty
  - name: duty
    channel: webhook
    url: http://127.0.0.1:1/duty
    rules: [resolution]
"""


def sent_alerts(notices):
    return [i.alert.alert_id for n in notices for i in n.items]


def test_routing_follows_rules_and_channels():
    d = Dispatcher(subscribers(ONE.format(rate=100)))
    assert d.offer(make_alert(1)) == [Key(make_alert(1).alert_id, "breach", "ops")]
    assert d.offer(make_alert(2, rule="resolution")) == []
    assert d.offer(make_alert(3, channel="email")) == []
    notices = d.due(1000.0, None)
    assert [n.kind for n in notices] == ["breach"] and sent_alerts(notices) == [make_alert(1).alert_id]


def test_storm_of_50_is_at_most_the_rate_and_every_alert_is_accounted_for():
    d = Dispatcher(subscribers(ONE.format(rate=20)))
    alerts = [make_alert(n) for n in range(50)]
    opened = [k for a in alerts for k in d.offer(a)]
    assert len(opened) == 50
    messages = []
    covered = []
    # Five minutes of pumping every second, the storm arriving at once.
    for second in range(300):
        notices = d.due(1000.0 + second, None)
        messages += [(1000 + second, n) for n in notices]
        for n in notices:
            covered += n.keys
            d.settle(n.keys)
    assert sorted(k.alert_id for k in covered) == sorted(a.alert_id for a in alerts)  # nothing lost, nothing doubled
    assert len(covered) == len(set(covered))
    assert len(messages) <= 20
    assert any(n.kind == "digest" and len(n.items) > 1 for _, n in messages)
    assert d.is_settled(opened)


def test_a_steady_trickle_over_the_cap_waits_then_digests():
    d = Dispatcher(subscribers(ONE.format(rate=3)))
    kinds, times, covered = [], [], 0
    for second in range(120):
        if second < 20:
            d.offer(make_alert(second))  # one alert a second for 20 s
        for n in d.due(float(second), None):
            kinds.append(n.kind)
            times.append(second)
            covered += len(n.items)
            d.settle(n.keys)
    assert covered == 20
    # No minute ever sees more than 3 messages.
    assert all(sum(1 for t in times if s <= t < s + 60) <= 3 for s in range(120))
    assert kinds[:3] == ["breach"] * 3 and "digest" in kinds


def test_feishu_five_per_second():
    d = Dispatcher(subscribers("subscribers:\n  - {name: f, channel: feishu, webhook: 'http://127.0.0.1:1/x'}\n"))
    for n in range(5):
        d.offer(make_alert(n))
    assert [n.kind for n in d.due(0.0, None)] == ["breach"] * 5
    d.offer(make_alert(9))
    assert d.due(0.5, None) == []  # the second is used up
    assert [n.kind for n in d.due(1.01, None)] == ["breach"]


def test_settled_keys_are_never_sent_again():
    d = Dispatcher(subscribers(ONE.format(rate=100)))
    alert = make_alert(1)
    d.settle([Key(alert.alert_id, "breach", "ops")])
    assert d.offer(alert) == []
    assert d.due(0.0, None) == []
    # The same alert offered twice while queued is queued once.
    other = make_alert(2)
    d.offer(other)
    d.offer(other)
    assert len(d.due(0.0, None)) == 1


def test_escalation_after_escalate_after_without_recovery():
    d = Dispatcher(subscribers(ESCALATING))
    breach = make_alert(1, detected=T0)
    keys = d.offer(breach)
    assert Key(breach.alert_id, "escalation", "duty") in keys
    first = d.due(0.0, T0)
    assert [(n.subscriber.name, n.kind) for n in first] == [("leads", "breach")]
    d.settle(first[0].keys)
    assert not d.is_settled(keys)  # the escalation is still open: the alert is not done
    assert d.due(1.0, T0 + timedelta(minutes=14, seconds=59)) == []
    late = d.due(2.0, T0 + timedelta(minutes=15))
    assert [(n.subscriber.name, n.kind) for n in late] == [("duty", "escalation")]
    d.settle(late[0].keys)
    assert d.is_settled(keys)
    # The recovery reaches the subscriber and the escalation target (who does not follow first_response).
    recovery = make_alert(1, status="recovery", detected=T0 + timedelta(minutes=20))
    d.offer(recovery)
    names = sorted((n.subscriber.name, n.kind) for n in d.due(3.0, T0 + timedelta(minutes=20)))
    assert names == [("duty", "recovery"), ("leads", "recovery")]


def test_recovery_in_time_cancels_the_escalation():
    d = Dispatcher(subscribers(ESCALATING))
    breach = make_alert(1, detected=T0)
    keys = d.offer(breach)
    d.settle(d.due(0.0, T0)[0].keys)
    d.offer(make_alert(1, status="recovery", detected=T0 + timedelta(minutes=5)))
    assert d.is_settled(keys)
    later = d.due(5.0, T0 + timedelta(hours=1))
    assert [(n.subscriber.name, n.kind) for n in later] == [("leads", "recovery")]


def test_a_retraction_reaches_whoever_was_sent_the_breach_once_and_unsends_a_queued_one():
    d = Dispatcher(subscribers(ONE.format(rate=1)))  # one notice a minute: the second breach waits
    first, second = make_alert(1), make_alert(2)
    d.offer(first)
    (sent,) = d.due(1000.0, None)
    assert sent_alerts([sent]) == [first.alert_id]
    d.settle(sent.keys)
    d.offer(second)
    assert d.due(1001.0, None) == [], "no room this minute: the second breach waits"
    # Late replies prove both breaches false.
    assert d.offer(make_alert(1, status="retracted")) == [Key(first.alert_id, "retracted", "ops")]
    assert d.offer(make_alert(2, status="retracted")) == [], "its breach was never sent: nothing to take back"
    assert d.is_settled([Key(second.alert_id, "breach", "ops")])
    notices = d.due(1061.0, None)
    assert [(n.kind, sent_alerts([n])) for n in notices] == [("retracted", [first.alert_id])]
    d.settle(notices[0].keys)
    assert d.offer(make_alert(1, status="retracted")) == [] and d.due(1200.0, None) == [], "told once"


def test_a_retraction_of_a_breach_being_sent_follows_it():
    """A burst of breaches drains slowly; a breach already handed out (not yet delivered) when its
    retraction comes is still told, so the retraction must follow it."""
    d = Dispatcher(subscribers(ONE.format(rate=100)))
    first = make_alert(1)
    d.offer(first)
    (in_flight,) = d.due(1000.0, None)  # handed to the sender, not delivered yet
    assert d.offer(make_alert(1, status="retracted")) == [Key(first.alert_id, "retracted", "ops")]
    d.settle(in_flight.keys)
    (after,) = d.due(1001.0, None)
    assert (after.kind, sent_alerts([after])) == ("retracted", [first.alert_id])


def test_a_retraction_cancels_the_escalation_and_tells_whoever_heard_of_it():
    d = Dispatcher(subscribers(ESCALATING))
    breach = make_alert(1)
    d.offer(breach)
    d.settle(d.due(1000.0, None)[0].keys)
    escalated = d.due(1001.0, breach.deadline + timedelta(minutes=16))
    assert [n.kind for n in escalated] == ["escalation"]
    d.settle(escalated[0].keys)
    d.offer(make_alert(1, status="retracted"))
    notices = d.due(1100.0, breach.deadline + timedelta(minutes=30))
    assert sorted((n.kind, n.subscriber.name) for n in notices) == [("retracted", "duty"), ("retracted", "leads")]


def test_an_escalation_waiting_for_a_slot_is_taken_back_by_the_retraction():
    d = Dispatcher(subscribers(ESCALATING.replace("    rules: [resolution]", "    rules: [resolution]\n    rate_limit_per_minute: 1")))
    other, breach = make_alert(2, rule="resolution"), make_alert(1)
    d.offer(other)
    d.offer(breach)
    d.settle([k for n in d.due(1000.0, None) for k in n.keys])  # duty's one notice this minute: `other`
    assert d.due(1001.0, breach.detected_at + timedelta(minutes=16)) == [], "the escalation waits for duty's next slot"
    assert d.offer(make_alert(1, status="retracted")) == [Key(breach.alert_id, "retracted", "leads")]
    later = d.due(1100.0, breach.detected_at + timedelta(minutes=30))
    told = {(n.kind, n.subscriber.name) for n in later if breach.alert_id in sent_alerts([n])}
    assert told == {("retracted", "leads")}, "duty is never sent the escalation, nor its retraction"


def test_a_long_running_dispatcher_remembers_a_bounded_number_of_settled_keys():
    from pipeline.alerts.dispatch import SETTLED_KEPT

    d = Dispatcher(subscribers(ONE.format(rate=100)))
    keys = [Key(f"A{n}", "breach", "ops") for n in range(SETTLED_KEPT + 500)]
    d.settle(keys)
    assert len(d.settled) == SETTLED_KEPT
    assert keys[-1] in d.settled and keys[0] not in d.settled  # the oldest go (the ledger still has them)
    d.settle(keys[500:501])  # settled again: now among the newest
    d.settle([Key("B", "breach", "ops")])
    assert keys[500] in d.settled and keys[501] not in d.settled
