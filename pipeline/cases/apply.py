"""The case step functions: `apply` an event, `advance` the clock. Pure: state in, state out."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pipeline.cases.derive import Fold, order_key, read, response
from pipeline.cases.derive import settle as settle_log
from pipeline.cases.rows import Alert, Response, case_row, ms
from pipeline.cases.state import CaseEvent, CaseState, Deadline, Entry, Raised, Summary, standing
from pipeline.events.models import Touchpoint
from pipeline.sla.policy import SlaPolicy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """The new state and what to emit: response rows, alerts, and the case row if it changed.

    `changed`: the state the case row is of, if the case changed (the row is built only when asked
    for: a batch writes one row per case, however many of its events the case took).
    `fold`: the reading of the new state's log, when the step read it (to pass to the next `apply`)."""

    state: CaseState
    responses: list[Response] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    changed: CaseState | None = None
    fold: Fold | None = None

    @cached_property
    def case(self) -> dict[str, Any] | None:
        """The `cx.cases` row, if the case changed."""
        return case_row(self.changed) if self.changed is not None else None

    def then(self, other: Step) -> Step:
        """This step followed by `other` (which started from this step's state)."""
        return Step(
            other.state,
            self.responses + other.responses,
            self.alerts + other.alerts,
            other.changed if other.changed is not None else self.changed,
            other.fold or self.fold,
        )


Status = Literal["breach", "recovery", "retracted"]


def _alert(
    case_id: str,
    s: Summary | None,
    d: Deadline,
    status: Status,
    at: datetime,
    event_id: str | None = None,
    note: str = "",
    raised_at: datetime | None = None,
    late_ms: int | None = None,
) -> Alert:
    assert s is not None
    detail = f"{d.detail}; {note}" if note else d.detail
    ended = status != "breach"
    waited_until = d.ended_at if ended and d.ended_at else at
    return Alert(
        alert_id=d.alert_id,
        case_id=case_id,
        rule=d.rule,
        status=status,
        channel=d.channel,
        priority=s.priority,
        customer_id=s.customer_id,
        agent_id=s.owner_agent_id,
        department=s.department,
        started_at=d.started_at,
        deadline=d.deadline,
        detected_at=at,
        ended_at=d.ended_at if ended else None,
        waited_ms=max(0, ms(waited_until - d.started_at)),
        limit_ms=d.limit_ms,
        event_id=event_id,
        detail=detail,
        raised_at=raised_at,
        late_ms=late_ms,
    )


def apply(
    state: CaseState | None,
    event: Touchpoint | CaseEvent,
    policy: SlaPolicy,
    sentiment: float | None = None,
    now: datetime | None = None,
    fold: Fold | None = None,
    arrived: datetime | None = None,
    clocked: bool = False,
) -> Step:
    """Add one touchpoint to its case; with `now` (the clock), also `advance` to it in the same step.

    `arrived`: the case's clock when the event arrived; an event behind it that proves a breach
    false retracts the breach, saying how late the event was. `clocked`: `arrived` is the stream's
    clock (None: no time yet), and a wait that the events so far end after its deadline is judged
    only once that clock passes the deadline; otherwise at once, by event time.

    `sentiment` goes with a `Touchpoint`; a `CaseEvent` carries its own. `fold`: the `Step.fold` that
    came with `state`, if kept, so an event in order is read alone (ignored unless it reads `state`
    exactly). Idempotent: an event_id
    already in the log changes nothing (at-least-once delivery), nor does an event older than the
    case's settled horizon (a redelivery of a settled event, or one too late to be put in its place).
    """
    # A new case's revisions start at its first event's time (ms): deterministic on redelivery, and
    # above any revision the case had before, should it come back after leaving the table.
    entry = event.entry if isinstance(event, CaseEvent) else Entry.of(event, sentiment)
    case_id = event.case_id
    state = state or CaseState(case_id=case_id, revision=ms(entry.ts - EPOCH))
    if case_id != state.case_id:
        raise ValueError(f"event {entry.event_id} is for case {case_id}, not {state.case_id}")
    if state.too_late(entry.ts) or any(e.event_id == entry.event_id for e in state.log):
        step = Step(state)
    else:
        step = _apply_new(state, entry, policy, fold, arrived, clocked)
    return step.then(advance(step.state, now)) if now is not None else step


def _apply_new(
    state: CaseState, entry: Entry, policy: SlaPolicy, fold: Fold | None, arrived: datetime | None, clocked: bool
) -> Step:
    log = list(state.log)
    bisect.insort(log, entry, key=order_key)
    fold = fold.then(entry) if fold is not None and fold.reads(state) else None
    fold = fold or read(state.case_id, log, policy, state.settled)
    derived = fold.finish()
    raised = dict(state.raised)
    alerts: list[Alert] = []
    pending: list[Deadline] = []
    current = {d.alert_id for d in derived.deadlines}

    def send(d: Deadline, status: Status, at: datetime, note: str = "") -> None:
        alerts.append(_alert(state.case_id, derived.summary, d, status, at, d.ended_by or entry.event_id, note))
        raised[d.alert_id] = Raised(deadline=d, status=status, detected_at=at)

    def retract(d: Deadline, sent: Raised, note: str) -> None:
        # The breach was raised on a clock that had not seen this event: it was false. Kept for
        # audit, with when it was raised and how late the event that disproved it came.
        at = max(arrived or entry.ts, sent.detected_at)
        late = ms(arrived - entry.ts) if arrived is not None and arrived > entry.ts else 0
        alerts.append(
            _alert(state.case_id, derived.summary, d, "retracted", at, entry.event_id, note, sent.detected_at, late)
        )
        raised[d.alert_id] = Raised(deadline=d, status="retracted", detected_at=at)

    for d in derived.deadlines:
        sent = raised.get(d.alert_id)
        if d.ended_at is None:
            if sent is None:
                pending.append(d)
            continue
        late = d.ended_at > d.deadline
        if late and sent is None:
            if clocked and (arrived is None or arrived < d.deadline):
                # The events so far say the wait ended after the deadline, but the clock has not
                # reached it: an event still on its way (another partition, a lagging source) may
                # end it in time. Judged when the clock passes the deadline (`advance`).
                pending.append(d)
                continue
            # Event time says the deadline passed before the wait ended: a breach, then at once its recovery.
            send(d, "breach", d.ended_at)
            sent = raised[d.alert_id]
        if sent is not None and sent.status != "retracted":
            if not late:
                retract(d, sent, "retracted: the wait ended in time; the event that says so arrived late")
            elif sent.status == "breach":
                send(d, "recovery", d.ended_at)
    for aid, sent in state.raised.items():
        if aid not in current and sent.status != "retracted":
            # A late event moved this deadline (e.g. an earlier message): the breach was never one.
            gone = sent.deadline.evolve(ended_at=entry.ts, ended_by=entry.event_id)
            retract(gone, sent, "retracted: a late event moved the deadline")

    answered = dict(state.answered)
    changed = []
    for a in derived.answers:
        if answered.get(a.message.event_id) != a.signature:
            answered[a.message.event_id] = a.signature
            changed.append(a)
    new = state.evolve(
        log=log,
        summary=derived.summary,
        pending=pending,
        raised=raised,
        answered=answered,
        revision=state.revision + 1,
    )
    responses = [response(state.case_id, a, policy, new.revision) for a in changed]
    return Step(new, responses, alerts, new, fold)


def advance(state: CaseState, now: datetime) -> Step:
    """Raise a breach for every pending deadline at or before `now` (once: it leaves `pending`); one
    whose wait already ended (late) is recovered at once."""
    due = [d for d in state.pending if d.deadline <= now]
    if not due:
        return Step(state)
    raised = dict(state.raised)
    alerts = []
    for d in due:
        alerts.append(_alert(state.case_id, state.summary, d, "breach", now))
        raised[d.alert_id] = Raised(deadline=d, status="breach", detected_at=now)
        if d.ended_at is not None:
            alerts.append(_alert(state.case_id, state.summary, d, "recovery", d.ended_at, d.ended_by))
            raised[d.alert_id] = Raised(deadline=d, status="recovery", detected_at=d.ended_at)
    rest = [d for d in state.pending if d.deadline > now]
    new = state.evolve(pending=rest, raised=raised, revision=state.revision + 1)
    return Step(new, [], alerts, new)


def settle(
    state: CaseState, until: datetime, policy: SlaPolicy, fold: Fold | None = None
) -> tuple[CaseState, Fold | None]:
    """Fold the events older than `until` into the case's settled part; its rows and alerts stay the same.

    Alerts and responses about what settled are final, so their bookkeeping goes too. `fold`: as
    for `apply` (when every event settles, its reading is the settled part). Also returns the
    reading of the new state's log (None: nothing settled).
    """
    old = [e for e in state.log if e.ts < until]
    if not old:
        return state, None
    rest = state.log[len(old) :]  # the log is in event-time order
    if not rest and fold is not None and fold.reads(state):
        settled = fold.settle(until)
    else:
        settled = settle_log(state.case_id, old, policy, state.settled, until)
    fold = read(state.case_id, rest, policy, settled)
    raised = {a: r for a, r in state.raised.items() if a in fold.deadlines}
    # Alerts that left `raised` still count among the case's breaches.
    settled = settled.evolve(breaches=state.breaches - standing(raised))
    fold.base = settled  # the same settled part; only its breach count is new
    answered = {a.message.event_id: a.signature for a in fold.answers}
    new = state.evolve(settled=settled, log=rest, raised=raised, answered=answered)
    return new, fold
