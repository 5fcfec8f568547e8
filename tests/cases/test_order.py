"""Results are a function of the events, not of their arrival (docs/sla.md, "Time, order and lateness").

A pure model of the stream: touchpoints spread over several input partitions (each in its own time
order, as a source writes them), landing taking them in batches in any interleaving that keeps each
partition's order and reporting how far each input partition was read (`InputMarks`), the case feed
split over two partitions, the `CaseBook` on the case clock, a restart anywhere (a fresh clock and
fresh marks, the states from the table, the last batch redelivered), then the clock taken to the
present. Whatever the partitioning, interleaving, batch boundaries and restart, the final rows equal
those of the ordered replay (every event through one partition, one at a time).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.cases.book import CaseBook, Outcome, StreamClock
from pipeline.cases.clock import InputMark, InputMarks
from pipeline.cases.rows import case_row
from pipeline.cases.state import CaseEvent, CaseRecord, CaseState
from pipeline.events import Touchpoint, parse_touchpoint
from pipeline.generate import generate
from pipeline.sla import load_policy

from .helpers import Agent, alerts_of, replay

POLICY = load_policy()
WALL = datetime(2100, 1, 1, tzinfo=UTC)  # history is far behind the wall clock
CASE_PARTITIONS = 2


def touchpoints(n: int, seed: int) -> list[Touchpoint]:
    """Generated touchpoints in time order."""
    events = [e for ln in generate(n, seed=seed).lines if isinstance(e := parse_touchpoint(ln), Touchpoint)]
    return sorted(events, key=lambda e: e.ts)


class Stream:
    """Landing and the case book over input partitions, writing to a table as the worker does."""

    def __init__(self, inputs: list[list[Touchpoint]]):
        self.inputs = inputs
        self.read = [0] * len(inputs)
        self.table: dict[str, str] = {}
        self.responses: dict[str, dict] = {}
        self.alerts: set[tuple] = set()
        self.retracted: set[str] = set()
        self.cases: dict[str, dict] = {}
        self.last: list[int] = list(self.read)  # positions before the last batch (redelivered after a restart)
        self.start()

    def start(self) -> None:
        """A worker starts: the states from the table, the clock and landing's marks afresh."""
        self.mono = 0.0
        self.wall = WALL
        self.clock = StreamClock("auto", lateness=POLICY.lateness, wall=lambda: self.wall, monotonic=lambda: self.mono)
        self.book = CaseBook(POLICY, self.state, self.clock)
        self.book.rebuild((r.partition, r.state) for r in map(CaseRecord.model_validate_json, self.table.values()))
        self.marks = InputMarks(wall=lambda: self.wall)

    def restart(self) -> None:
        """Kill after the last batch was written but before it was acked: it comes again."""
        self.read = list(self.last)
        self.start()

    def state(self, case_id: str) -> CaseState | None:
        stored = self.table.get(case_id)
        return None if stored is None else CaseRecord.model_validate_json(stored).state

    def batch(self, takes: list[tuple[int, int]]) -> None:
        """One landing batch: `count` events from each (input partition, count), in that order."""
        self.last = list(self.read)
        taken: list[tuple[str, Touchpoint]] = []
        for source, count in takes:
            start = self.read[source]
            taken += [(f"in:{source}", e) for e in self.inputs[source][start : start + count]]
            self.read[source] = min(len(self.inputs[source]), start + count)
        self.marks.observe((source, e.ts, e) for source, e in taken)
        report = self.marks.report(
            [f"in:{i}" for i in range(len(self.inputs))], lambda s: self.read[int(s[3:])] == len(self.inputs[int(s[3:])])
        )
        feed = [(zlib.crc32(e.case_id.encode()) % CASE_PARTITIONS, CaseEvent.of(e)) for _, e in taken]
        self.write(self.book.on_events(feed, {p: report for p in range(CASE_PARTITIONS)}))

    def finish(self, until: datetime) -> None:
        """The replay is over: the clock goes on to `until` (live)."""
        self.wall, self.mono = until, self.mono + 3600.0
        self.write(self.book.on_tick())

    def write(self, outcome: Outcome) -> None:
        for r in outcome.responses:
            self.responses[r.asked_event_id] = {**r.row(), "version": None}
        for a in outcome.alerts:
            self.alerts.add((a.alert_id, a.case_id, a.rule.value, a.status, a.deadline))
            if a.status == "retracted":
                self.retracted.add(a.alert_id)
        for case_id, row in outcome.cases.items():
            self.cases[case_id] = {**row, "version": None}
        for case_id, (partition, state) in outcome.states.items():
            self.table[case_id] = CaseRecord(partition=partition, state=state).model_dump_json()
        for case_id in outcome.forgotten:
            del self.table[case_id]
        self.book.commit(outcome)

    def views(self) -> tuple[dict, set, dict]:
        """What the analyst views show: responses, alerts (a retracted breach counts as met), cases."""
        alerts = {a[1:] for a in self.alerts if a[3] == "retracted" or a[0] not in self.retracted}
        return self.responses, alerts, self.cases


def ordered(events: list[Touchpoint], until: datetime) -> Stream:
    """The yardstick: every event through one input partition, in time order, one per batch."""
    stream = Stream([events])
    for _ in events:
        stream.batch([(0, 1)])
    stream.finish(until)
    return stream


PARTITIONERS = ("case", "customer", "random", "round_robin")


@st.composite
def arrivals(draw):
    """Events spread over input partitions, and a way to read them: (inputs, batches, restart at)."""
    events = touchpoints(draw(st.integers(60, 160)), draw(st.integers(0, 10_000)))
    n = draw(st.integers(1, 4))
    how = draw(st.sampled_from(PARTITIONERS))
    inputs: list[list[Touchpoint]] = [[] for _ in range(n)]
    for i, e in enumerate(events):
        if how == "case":
            p = zlib.crc32(e.case_id.encode()) % n
        elif how == "customer":
            p = zlib.crc32(e.customer_id.encode()) % n
        elif how == "round_robin":
            p = i % n
        else:
            p = draw(st.integers(0, n - 1))
        inputs[p].append(e)
    # Batches: takes from partitions in any order, any sizes, until all are read.
    left = [len(p) for p in inputs]
    batches = []
    while any(left):
        takes = []
        for _ in range(draw(st.integers(1, 3))):
            p = draw(st.sampled_from([i for i in range(n) if left[i]] or [0]))
            count = min(left[p], draw(st.integers(1, 40)))
            left[p] -= count
            takes.append((p, count))
        batches.append(takes)
    restart = draw(st.one_of(st.none(), st.integers(0, len(batches) - 1)))
    return events, inputs, batches, restart


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arrivals())
@example(None)  # the case: one partition read whole before another
def test_any_partitioning_interleaving_batching_and_restart_gives_the_ordered_replays_rows(drawn):
    if drawn is None:
        events = touchpoints(150, 3)
        inputs = [[e for e in events if zlib.crc32(e.case_id.encode()) % 2 == p] for p in (0, 1)]
        batches = [[(0, len(inputs[0]))], [(1, len(inputs[1]))]]
        drawn = events, inputs, batches, None
    events, inputs, batches, restart = drawn
    until = max(e.ts for e in events) + timedelta(days=30)
    expected = ordered(events, until)
    stream = Stream(inputs)
    for i, takes in enumerate(batches):
        stream.batch([(p, c) for p, c in takes])
        if i == restart:
            stream.restart()
            stream.batch([(p, c) for p, c in takes])
    stream.finish(until)
    responses, alerts, cases = stream.views()
    want_responses, want_alerts, want_cases = expected.views()
    assert alerts == want_alerts
    assert responses == want_responses
    assert cases == want_cases
    assert not stream.retracted, "read in each partition's order, nothing is behind the clock: nothing to retract"


def test_one_input_partition_read_ahead_of_another_raises_no_false_breach():
    # 20 chat cases on each of two input partitions, each answered in 30 s and resolved in 2 minutes;
    # the first partition read whole before the second (a catch-up, a sparser partition).
    start = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
    inputs: list[list[Touchpoint]] = [[], []]
    for n in range(40):
        t = start + timedelta(minutes=3 * (n // 2))
        case = f"C{n:03d}"
        inputs[n % 2] += [
            _tp(case, "e0", "contact_opened", "customer", t),
            _tp(case, "e1", "customer_message", "customer", t + timedelta(seconds=1)),
            _tp(case, "e2", "agent_reply", "agent", t + timedelta(seconds=31)),
            _tp(case, "e3", "resolved", "agent", t + timedelta(minutes=2)),
        ]
    until = start + timedelta(days=5)
    skewed = Stream(inputs)
    skewed.batch([(0, len(inputs[0]))])
    skewed.batch([(1, len(inputs[1]))])
    skewed.finish(until)
    interleaved = Stream(inputs)
    for _ in range(len(inputs[0])):
        interleaved.batch([(0, 1), (1, 1)])
    interleaved.finish(until)
    breaches = [a for a in skewed.alerts if a[3] == "breach" and a[2] in ("first_response", "next_reply")]
    assert breaches == []
    assert skewed.views() == interleaved.views()


def test_a_batch_redelivered_after_it_evicted_a_case_does_not_start_the_case_again():
    # One input partition holds a whole case and, eight days later, another; the other partition is read
    # first. The batch that reads the rest of the first partition also moves the clock (every input idle:
    # the newest mark) past the case's quiet period, so it evicts the case whose events it brought. A
    # kill before the ack redelivers that batch to a worker that restores its states from the table.
    start = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
    gone = [
        _tp("GONE", "e0", "contact_opened", "customer", start),
        _tp("GONE", "e1", "agent_reply", "agent", start + timedelta(seconds=20)),
        _tp("GONE", "e2", "resolved", "agent", start + timedelta(minutes=5)),
        _tp("GONE", "e3", "follow_up", "agent", start + timedelta(hours=2)),
        _tp("GONE", "e4", "closed", "system", start + timedelta(hours=3)),
    ]
    later = [_tp("LATER", "e0", "contact_opened", "customer", start + timedelta(days=8))]
    other = [_tp("OTHER", "e0", "contact_opened", "customer", start + timedelta(days=8, minutes=1))]
    until = start + timedelta(days=30)
    expected = ordered(sorted(gone + later + other, key=lambda e: e.ts), until)

    stream = Stream([other, gone + later])
    stream.batch([(0, 1)])
    stream.batch([(1, 1)])  # the case opens: its first-response deadline is watched
    stream.batch([(1, 5)])
    assert "GONE" in stream.table and stream.state("GONE").gone is not None  # only its marker stays
    stream.restart()
    stream.batch([(1, 5)])
    stream.finish(until)
    assert stream.views() == expected.views()
    assert stream.cases["GONE"]["events"] == 5 and "GONE" not in stream.table  # the marker went in its turn


def test_one_event_stamped_hours_ahead_does_not_breach_the_other_cases():
    # A system that writes local time labelled UTC: one event 8 hours ahead, on another case.
    start = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
    events = []
    for n in range(20):
        t = start + timedelta(minutes=2 * n)
        events += [
            _tp(f"C{n:03d}", "e0", "contact_opened", "customer", t),
            _tp(f"C{n:03d}", "e1", "agent_reply", "agent", t + timedelta(seconds=30)),
        ]
    odd = _tp("ODD", "e0", "contact_opened", "customer", start + timedelta(hours=8, minutes=1))
    events.insert(3, odd)
    outcomes = replay(events, POLICY)
    first_responses = [a for a in alerts_of(outcomes) if a.rule.value == "first_response" and a.case_id != "ODD"]
    assert first_responses == []
    # Through landing: the odd time is reported, and only once.
    marks = InputMarks(wall=lambda: WALL)
    odd_ones = marks.observe(("in:0", e.ts, e) for e in events).odd
    assert [(e.case_id, reason) for e, reason, _ in odd_ones] == [("ODD", "far_ahead_of_partition")]
    assert marks.report(["in:0"], lambda s: True) == [InputMark("in:0", max(e.ts for e in events if e.case_id != "ODD"), True)]


def test_a_late_reply_live_retracts_the_breach_and_the_views_count_the_sla_as_met():
    # Opened at T, answered at T+30 s, the reply's event arriving 15 minutes late (its source lagging).
    t = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
    live = Agent(POLICY, live=True)
    live.events([_tp("C1", "e0", "contact_opened", "customer", t)])
    live.tick(t + timedelta(minutes=10))  # the wall clock passed the deadline by the lateness
    reply = _tp("C1", "e1", "agent_reply", "agent", t + timedelta(seconds=30))
    live.wall = t + timedelta(minutes=15, seconds=30)
    (outcome,) = [live._written(live.book.on_events([(0, CaseEvent.of(reply))]))]
    statuses = [(a.rule.value, a.status) for a in outcome.alerts]
    assert ("first_response", "retracted") in statuses
    retraction = next(a for a in outcome.alerts if a.status == "retracted")
    assert retraction.late_ms is not None and retraction.late_ms >= 15 * 60_000 - 30_000
    assert [e.reason for e in outcome.late] == ["behind_watermark"]
    state = live.state("C1")
    assert state is not None and state.breaches == 0 and case_row(state)["open_breaches"] == 0


def _tp(case: str, suffix: str, kind: str, actor: str, ts: datetime) -> Touchpoint:
    return Touchpoint.model_validate(
        {
            "event_id": f"{case}-{suffix}",
            "case_id": case,
            "customer_id": f"U-{case}",
            "channel": "chat",
            "kind": kind,
            "actor": actor,
            "agent_id": "A1" if actor == "agent" else None,
            "department": "客服部",
            "ts": ts.isoformat(),
        }
    )
