"""Fold a case's event log (in event-time order) into measures, deadlines and response rows.

Recomputing from the ordered log, instead of updating counters event by event, is what makes the
result independent of arrival order: a late event lands in its place and everything after it is
re-read. Only the open part of the log is re-read: events older than the case's settle horizon are
folded once into a `Settled` record (the fold's running totals) and leave the log, so the work and
the stored state per event stay the size of the case's open business, not of its history. And an
event that comes last in event-time order (most do) is read alone, after a copy of the `Fold` that
read the log before it (`Fold.then`): reading is sequential, so that is the same fold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pipeline.cases.rows import Response, alert_id, ms
from pipeline.cases.state import CaseState, Deadline, Entry, Measures, Settled, Summary
from pipeline.events.models import Actor, Kind, Priority
from pipeline.sla.policy import Limit, Rule, SlaPolicy, human

# Same-instant events are read in the order a case naturally unfolds.
_KIND_RANK = {
    Kind.contact_opened: 0,
    Kind.customer_message: 1,
    Kind.reopened: 2,
    Kind.transfer: 3,
    Kind.promise: 4,
    Kind.agent_reply: 5,
    Kind.follow_up: 6,
    Kind.resolved: 7,
    Kind.closed: 8,
}


def order_key(entry: Entry) -> tuple[datetime, int, str]:
    """Event-time order of a case's log; ties broken so every arrival order gives the same log."""
    return (entry.ts, _KIND_RANK[entry.kind], entry.event_id)


def is_customer_contact(entry: Entry) -> bool:
    """A customer reaching out: a message, or opening the contact themselves (a call, a visit)."""
    if entry.kind is Kind.customer_message:
        return True
    return entry.kind is Kind.contact_opened and entry.actor is Actor.customer


@dataclass(frozen=True, slots=True)
class Answer:
    """A customer message and the reply that answered it, as the fold read them: a response row to be.

    Kept this light because every event re-reads its case's open log: the row (`response`) is built
    only for an answer that is new or changed (`signature`)."""

    message: Entry
    reply: Entry
    kind: Literal["first", "next"]
    priority: Priority

    @property
    def signature(self) -> str:
        """What makes a response row different from the one already written for the same message."""
        return f"{self.kind}|{self.reply.event_id}|{self.priority.value}"


@dataclass
class Derived:
    """What the log says: measures, every deadline (running or ended) and answered messages."""

    summary: Summary
    deadlines: list[Deadline]
    answers: list[Answer]


@dataclass
class _Turn:
    """A stretch of customer waiting: from the first unanswered message to the next reply."""

    messages: list[Entry]
    deadline: Deadline | None


@dataclass
class Fold:
    """A case's log as read so far: the running totals, deadlines and answers of every event read.

    `base` is the settled part it went on from; `last` the last event read. Never changed once
    handed out: reading on (`then`) works on a copy."""

    case_id: str
    policy: SlaPolicy
    base: Settled | None = None
    last: Entry | None = None
    # Opened from an event that is not `contact_opened`: one read later would open the case anew.
    opened_without_contact: bool = False
    priority: Priority = Priority.normal
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    turn: _Turn | None = None
    resolution: Deadline | None = None
    follow_up: Deadline | None = None
    promises: list[Deadline] = field(default_factory=list)
    recontact_armed: bool = False
    first_contact: str | None = None  # event_id
    # Summary fields by name (`Measures`), filled in while the log is read (`s` locally).
    measures: dict[str, Any] = field(default_factory=dict)
    # Events read so far (settled ones included); promises kept and broken that settled and left.
    events_read: int = 0
    promises_kept: int = 0
    promises_broken: int = 0

    @classmethod
    def resume(cls, case_id: str, policy: SlaPolicy, settled: Settled) -> Fold:
        """Go on from where reading the settled events left off."""
        deadlines = {d.alert_id: d for d in settled.deadlines}
        fold = cls(
            case_id,
            policy,
            base=settled,
            priority=settled.priority,
            deadlines=deadlines,
            resolution=deadlines.get(settled.resolution or ""),
            follow_up=deadlines.get(settled.follow_up or ""),
            promises=[deadlines[a] for a in settled.promises],
            recontact_armed=settled.recontact_armed,
            first_contact=settled.first_contact,
            measures=settled.measures.model_dump(exclude_none=True),
            events_read=settled.events,
            promises_kept=settled.promises_kept,
            promises_broken=settled.promises_broken,
        )
        if settled.waiting:
            fold.turn = _Turn(list(settled.waiting), deadlines.get(settled.turn_deadline or ""))
        return fold

    def reads(self, state: CaseState) -> bool:
        """Whether this is the reading of `state`: the same settled part, event count and last event."""
        last = state.log[-1] if state.log else None
        return self.base is state.settled and self.events_read == state.events and self.last is last

    def then(self, entry: Entry) -> Fold | None:
        """This reading with `entry` read after it: None if `entry` does not come last in event-time
        order, or would change how the case opened (the log must then be read again)."""
        if self.last is not None and order_key(entry) <= order_key(self.last):
            return None
        if self.opened_without_contact and entry.kind is Kind.contact_opened:
            return None
        # A shallow copy with the parts `feed` changes in place copied too (`replace` would run
        # `__init__` over every field: a third of this method's time).
        fold = object.__new__(Fold)
        fold.__dict__.update(
            self.__dict__,
            deadlines=dict(self.deadlines),
            answers=list(self.answers),
            turn=self.turn and _Turn(list(self.turn.messages), self.turn.deadline),
            promises=list(self.promises),
            measures=dict(self.measures),
        )
        fold.feed((entry,))
        return fold

    def settle(self, until: datetime) -> Settled:
        """What to keep to go on later; ended deadlines nobody refers to any more are let go."""
        held = {d.alert_id for d in (self.resolution, self.follow_up, self.turn and self.turn.deadline) if d}
        held |= {d.alert_id for d in self.promises}
        kept = {a: d for a, d in self.deadlines.items() if d.ended_at is None or a in held}
        gone = [d for a, d in self.deadlines.items() if a not in kept]
        promises = [d for d in gone if d.rule is Rule.promise]
        return Settled(
            until=until,
            events=self.events_read,
            priority=self.priority,
            measures=Measures.trusted(self.measures),
            deadlines=list(kept.values()),
            waiting=self.turn.messages if self.turn else [],
            turn_deadline=self.turn.deadline.alert_id if self.turn and self.turn.deadline else None,
            resolution=self.resolution.alert_id if self.resolution else None,
            follow_up=self.follow_up.alert_id if self.follow_up else None,
            promises=[d.alert_id for d in self.promises],
            promises_kept=self.promises_kept + sum(1 for d in promises if d.ended_at and d.ended_at <= d.deadline),
            promises_broken=self.promises_broken + sum(1 for d in promises if d.ended_at and d.ended_at > d.deadline),
            recontact_armed=self.recontact_armed,
            first_contact=self.first_contact,
        )

    # -- deadlines ---------------------------------------------------------------------------------

    def _start(self, rule: Rule, entry: Entry, start: datetime, limit: Limit, detail: str) -> Deadline:
        due = self.policy.deadline(start, limit, self.priority)
        return self._add(rule, entry, start, due, ms(limit.span(self.priority)), detail)

    def _add(
        self, rule: Rule, entry: Entry, start: datetime, due: datetime, limit_ms: int | None, detail: str
    ) -> Deadline:
        d = Deadline.trusted(
            {
                "alert_id": alert_id(self.case_id, rule, due),
                "rule": rule,
                "started_at": start,
                "deadline": due,
                "channel": entry.channel,
                "limit_ms": limit_ms,
                "detail": detail,
            }
        )
        # Same case, rule and deadline is the same alert (e.g. two promises for the same hour). One
        # that ended already and began elsewhere is open again: a new wait whose deadline falls where
        # an answered one's did (business hours move both to the same opening). Settling lets the
        # answered one go, so keeping it would make the breach depend on when the case settled.
        held = self.deadlines.get(d.alert_id)
        if held is None or (held.ended_at is not None and held.started_at != start):
            self.deadlines[d.alert_id] = d
        return self.deadlines[d.alert_id]

    def _end(self, d: Deadline | None, entry: Entry) -> None:
        if d is None or self.deadlines[d.alert_id].ended_at is not None:
            return
        self.deadlines[d.alert_id] = d.evolve(ended_at=entry.ts, ended_by=entry.event_id)

    def _ended(self, d: Deadline | None) -> bool:
        return d is not None and self.deadlines[d.alert_id].ended_at is not None

    def _local(self, instant: datetime) -> str:
        # Notices are read by people in the policy's time zone, not in UTC.
        zone = ZoneInfo(self.policy.business_hours.timezone)
        return instant.astimezone(zone).isoformat(sep=" ", timespec="minutes")

    def _open_resolution(self, entry: Entry, start: datetime) -> None:
        limit = self.policy.resolution.get(self.priority)
        if limit is not None:
            self.resolution = self._start(
                Rule.resolution,
                entry,
                start,
                limit,
                f"{self.priority.value} priority: resolve within {human(limit.span(self.priority))}",
            )

    # -- events ------------------------------------------------------------------------------------

    def open(self, log: list[Entry]) -> None:
        """Start a case from its earliest events: who, where, when, and the resolution clock."""
        opened = next((e for e in log if e.kind is Kind.contact_opened), None)
        first = opened or log[0]
        self.opened_without_contact = opened is None
        self.priority = first.priority
        self.measures.update(customer_id=first.customer_id, channel=first.channel, opened_at=first.ts, status="open")
        self._open_resolution(first, first.ts)

    def feed(self, log: Iterable[Entry]) -> None:
        """Read events in event-time order."""
        for e in log:
            self.last = e
            self.measures["last_event_at"] = e.ts
            self.events_read += 1
            self._escalate(e)
            self._owner(e)
            handler = getattr(self, f"_on_{e.kind.value}", None)
            if is_customer_contact(e):
                self._on_contact(e)
            elif handler is not None:
                handler(e)

    def _escalate(self, e: Entry) -> None:
        # Events default to `normal`, so only an explicit `high` can change the opening priority.
        if e.priority is not Priority.high or self.priority is Priority.high:
            return
        self.priority = Priority.high
        r = self.resolution
        if r is not None and not self._ended(r):
            del self.deadlines[r.alert_id]
            self.resolution = None
            self._open_resolution(e, r.started_at)

    def _owner(self, e: Entry) -> None:
        if e.actor is Actor.customer:
            # Until someone takes it, the case waits in the queue of the department it came to.
            if e.department and not self.measures.get("department"):
                self.measures["department"] = e.department
            return
        # A transfer names the desk receiving the case (attrs.to_* when the event carries both).
        agent = (e.to_agent_id or e.agent_id) if e.kind is Kind.transfer else e.agent_id
        dept = (e.to_department or e.department) if e.kind is Kind.transfer else e.department
        if agent:
            self.measures["owner_agent_id"] = agent
        if dept:
            self.measures["department"] = dept

    def _on_contact(self, e: Entry) -> None:
        s = self.measures
        s["messages"] = s.get("messages", 0) + 1
        s.setdefault("first_message_at", e.ts)
        if e.sentiment is not None:
            s.setdefault("first_sentiment", e.sentiment)
            s["last_sentiment"] = e.sentiment
        if self.recontact_armed:
            s["recontacts"] = s.get("recontacts", 0) + 1
            self.recontact_armed = False
        if self.turn is not None:
            self.turn.messages.append(e)  # already waiting: the clock keeps running from the first
            return
        if self.first_contact is None:
            self.first_contact = e.event_id
        rule = Rule.first_response if e.event_id == self.first_contact else Rule.next_reply
        limit = self.policy.response_limit(rule, e.channel)
        deadline = None
        if limit is not None:
            deadline = self._start(
                rule, e, e.ts, limit, f"{e.channel.value}: reply within {human(limit.span(self.priority))}"
            )
        self.turn = _Turn([e], deadline)

    def _on_agent_reply(self, e: Entry) -> None:
        s = self.measures
        s["replies"] = s.get("replies", 0) + 1
        if self.turn is None:
            return  # an agent speaking first answers nobody
        self._end(self.turn.deadline, e)
        for m in self.turn.messages:
            kind = "first" if m.event_id == self.first_contact else "next"
            if kind == "first":
                s["first_response_at"] = e.ts
                s["first_response_ms"] = ms(e.ts - m.ts)
            self.answers.append(Answer(m, e, kind, self.priority))
        self.turn = None

    def _on_transfer(self, e: Entry) -> None:
        s = self.measures
        s["handoffs"] = s.get("handoffs", 0) + 1
        most = self.policy.handoffs.max_transfers
        if s["handoffs"] == most + 1:
            # Not a wait: the breach is the transfer itself, so its "deadline" is the transfer time.
            self._add(
                Rule.handoffs,
                e,
                s["opened_at"],
                e.ts,
                None,
                f"transfer #{s['handoffs']} on the case; at most {most} allowed",
            )

    def _on_promise(self, e: Entry) -> None:
        self.measures["promises"] = self.measures.get("promises", 0) + 1
        if e.promised_by is None:
            return
        due = e.promised_by + self.policy.promise.grace
        self.promises.append(
            self._add(Rule.promise, e, e.ts, due, ms(due - e.ts), f"promised by {self._local(e.promised_by)}")
        )

    def _keep_promises(self, e: Entry) -> None:
        for p in self.promises:
            self._end(p, e)
        self.promises = []

    def _on_resolved(self, e: Entry) -> None:
        s = self.measures
        self._end_turn(e)
        self._keep_promises(e)
        self._end(self.resolution, e)
        if "resolved_at" not in s:
            s["resolved_at"] = e.ts
            s["resolution_ms"] = ms(e.ts - s["opened_at"])
            s["resolution_business_ms"] = ms(self.policy.business_hours.between(s["opened_at"], e.ts))
        if self.follow_up is None:  # one follow-up per resolution, not per repeated `resolved`
            limit = self.policy.follow_up
            s["follow_up_done"] = None
            self.follow_up = self._start(
                Rule.follow_up,
                e,
                e.ts,
                limit,
                f"follow up within {human(limit.span(self.priority))} of resolution",
            )
        s["last_resolved_at"] = e.ts
        s["status"] = "resolved"
        self.recontact_armed = True

    def _on_follow_up(self, e: Entry) -> None:
        self._keep_promises(e)
        self.measures.setdefault("follow_up_at", e.ts)
        fu = self.follow_up
        if fu is not None and not self._ended(fu):
            self.measures["follow_up_done"] = e.ts <= fu.deadline
            self._end(fu, e)

    def _on_reopened(self, e: Entry) -> None:
        s = self.measures
        s["reopens"] = s.get("reopens", 0) + 1
        if self.recontact_armed and e.actor is Actor.customer:
            s["recontacts"] = s.get("recontacts", 0) + 1
        self.recontact_armed = False
        # The fix did not hold: the follow-up is moot, and a new resolution clock starts.
        self._end(self.follow_up, e)
        self.follow_up = None
        if self.resolution is None or self._ended(self.resolution):
            self._open_resolution(e, e.ts)
        s["status"] = "open"

    def _on_closed(self, e: Entry) -> None:
        self._end_turn(e)
        self._end(self.resolution, e)
        self.measures["closed_at"] = e.ts
        self.measures["status"] = "closed"

    def _end_turn(self, e: Entry) -> None:
        # A resolved or closed case is not waiting for a reply any more; the messages stay unanswered.
        if self.turn is not None:
            self._end(self.turn.deadline, e)
            self.turn = None

    # -- result ------------------------------------------------------------------------------------

    def finish(self) -> Derived:
        """Measures, deadlines and responses as of every event read."""
        s = self.measures
        deadlines = sorted(self.deadlines.values(), key=lambda d: (d.deadline, d.rule))  # a StrEnum sorts as its value
        promises = [d for d in deadlines if d.rule is Rule.promise]
        kept = sum(1 for d in promises if d.ended_at is not None and d.ended_at <= d.deadline)
        broken = sum(1 for d in promises if (d.ended_at or s["last_event_at"]) > d.deadline)
        running = [d for d in promises if d.ended_at is None]
        fu = self.follow_up and self.deadlines[self.follow_up.alert_id]
        # Every value comes from validated entries and the policy: built, not validated, on every event.
        summary = Summary.trusted(
            {
                **s,
                "priority": self.priority,
                "waiting_since": self.turn.messages[0].ts if self.turn else None,
                "promises_kept": self.promises_kept + kept,
                "promises_broken": self.promises_broken + broken,
                "promise_due": running[0].deadline if running else None,
                "follow_up_due": fu.deadline if fu else None,
            }
        )
        return Derived(summary, deadlines, self.answers)


def read(case_id: str, log: list[Entry], policy: SlaPolicy, settled: Settled | None) -> Fold:
    """Read a case: its settled part, then `log` (sorted by `order_key`)."""
    if settled is not None:
        fold = Fold.resume(case_id, policy, settled)
    elif log:
        fold = Fold(case_id, policy)
        fold.open(log)
    else:
        raise ValueError("a case needs at least one event")
    fold.feed(log)
    return fold


def response(case_id: str, answer: Answer, policy: SlaPolicy, version: int) -> Response:
    """The `cx.responses` row of an answer (`version`: the case revision that wrote it)."""
    m, reply = answer.message, answer.reply
    rule = Rule.first_response if answer.kind == "first" else Rule.next_reply
    limit = policy.response_limit(rule, m.channel)
    wait, business = policy.wait(m.ts, reply.ts)
    if limit is None:
        limit_ms, within = None, None
    else:
        due = policy.deadline(m.ts, limit, answer.priority)
        limit_ms, within = ms(limit.span(answer.priority)), reply.ts <= due
    return Response.trusted(
        {
            "case_id": case_id,
            "kind": answer.kind,
            "channel": m.channel,
            "priority": answer.priority,
            "customer_id": m.customer_id,
            "asked_at": m.ts,
            "answered_at": reply.ts,
            "wait_ms": ms(wait),
            "business_wait_ms": ms(business),
            "limit_ms": limit_ms,
            "within_sla": within,
            "asked_event_id": m.event_id,
            "answered_event_id": reply.event_id,
            "agent_id": reply.agent_id,
            "department": reply.department,
            "version": version,
        }
    )


def settle(case_id: str, log: list[Entry], policy: SlaPolicy, settled: Settled | None, until: datetime) -> Settled:
    """Fold `log` (every event older than `until`) into the settled part."""
    return read(case_id, log, policy, settled).settle(until)
