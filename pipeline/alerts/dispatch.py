"""Routing, rate limits, digests and escalation: which notices go out now. Pure: no I/O, no clock of its own.

The caller offers alerts (breaches and recoveries as they come off `cx.breaches`), tells which
ledger keys are already settled (delivered or failed before), and asks `due(now, stream_now)` for
the notices to send. Every key offered stays `open` until `settle` is called for it, so the caller
knows when a consumed alert is fully dealt with (and may commit its offset).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.alerts.notice import Item, Key, Notice, digest, single
from pipeline.alerts.subscribers import Subscriber, SubscribersFile
from pipeline.cases.rows import Alert


# Settled keys remembered (a few MB): older ones are asked of the ledger again when their alert
# comes back (`NoticeRunner.offer`), so a long-running notifier does not grow with every alert.
SETTLED_KEPT = 50_000


@dataclass
class _Escalation:
    due: datetime
    item: Item


class Dispatcher:
    """Per-subscriber queues under rate limits; a queue that outgrows the room left becomes one digest."""

    def __init__(self, subscribers: SubscribersFile):
        self.subscribers = subscribers
        # Keys settled, newest last; bounded: the runner asks the ledger again for each batch's alerts.
        self.settled: dict[Key, None] = {}
        self.open: set[Key] = set()
        self._queues: dict[str, list[Item]] = {s.name: [] for s in subscribers.subscribers}
        self._released: dict[str, deque[float]] = {s.name: deque() for s in subscribers.subscribers}
        self._escalations: dict[Key, _Escalation] = {}

    def settle(self, keys: Iterable[Key]) -> None:
        """Keys the ledger holds (delivered or given up on, now or before): never send them again."""
        for key in keys:
            self.settled.pop(key, None)
            self.settled[key] = None
            self.open.discard(key)
        while len(self.settled) > SETTLED_KEPT:
            del self.settled[next(iter(self.settled))]

    def is_settled(self, keys: Iterable[Key]) -> bool:
        """Whether none of `keys` is still waiting to be sent or escalated."""
        return not any(k in self.open for k in keys)

    def armed(self) -> int:
        """Escalations waiting for their time."""
        return len(self._escalations)

    def queued(self) -> int:
        """Notices waiting for a slot (escalations not yet due excluded)."""
        return sum(len(q) for q in self._queues.values())

    def offer(self, alert: Alert, last_message: str | None = None, received_at: float | None = None) -> list[Key]:
        """Route one alert to its subscribers; return the keys it opened (or that are still open)."""
        keys: list[Key] = []

        def item(status: str, subscriber: str) -> Item:
            return Item(Key(alert.alert_id, status, subscriber), alert, last_message, received_at)  # type: ignore[arg-type]

        if alert.status != "breach":
            self._cancel_escalations(alert.alert_id)
        if alert.status == "retracted":
            return self._retract(alert, item)
        for sub in self.subscribers.subscribers:
            if not sub.wants(alert.rule, alert.channel, alert.department, alert.priority):
                continue
            if alert.status == "breach":
                keys += self._enqueue(sub, item("breach", sub.name))
                if sub.escalate_to is not None and sub.escalate_after is not None:
                    keys += self._arm(sub, item("escalation", sub.escalate_to))
                continue
            if sub.recovery:
                keys += self._enqueue(sub, item("recovery", sub.name))
            if sub.escalate_to is not None:
                # Whoever was told about the escalation also hears that it is over.
                target = self.subscribers.get(sub.escalate_to)
                if Key(alert.alert_id, "escalation", target.name) in self.settled and target.recovery:
                    keys += self._enqueue(target, item("recovery", target.name))
        return keys

    def _retract(self, alert: Alert, item: Callable[[str, str], Item]) -> list[Key]:
        """A false breach: whoever was sent it, or is being sent it now, hears once that it was false
        (the retraction queues behind the notice in flight); a notice still waiting for a slot is
        not sent at all."""
        keys: list[Key] = []
        for sub in self.subscribers.subscribers:
            if not sub.wants(alert.rule, alert.channel, alert.department, alert.priority):
                continue
            told = [(sub, Key(alert.alert_id, "breach", sub.name))]
            if sub.escalate_to is not None:
                told.append((self.subscribers.get(sub.escalate_to), Key(alert.alert_id, "escalation", sub.escalate_to)))
            for who, key in told:
                if self._unsend(who, key):
                    continue
                # Settled: delivered (or given up on). Still open but not queued: handed out by
                # `due` and not yet delivered (escalations not yet due were cancelled above).
                if key in self.settled or key in self.open:
                    keys += self._enqueue(who, item("retracted", who.name))
        return keys

    def _unsend(self, sub: Subscriber, key: Key) -> bool:
        """Take a notice still waiting in `sub`'s queue back; whether it was there."""
        queue = self._queues[sub.name]
        kept = [i for i in queue if i.key != key]
        if len(kept) == len(queue):
            return False
        self._queues[sub.name] = kept
        self.open.discard(key)
        return True

    def _enqueue(self, sub: Subscriber, item: Item) -> list[Key]:
        if item.key in self.settled:
            return []
        if item.key not in self.open:
            self.open.add(item.key)
            self._queues[sub.name].append(item)
        return [item.key]

    def _arm(self, sub: Subscriber, escalation: Item) -> list[Key]:
        key = escalation.key
        if key in self.settled:
            return []
        if key not in self.open:
            due = escalation.alert.detected_at + timedelta(minutes=sub.escalate_after or 0)
            self._escalations[key] = _Escalation(due, escalation)
            self.open.add(key)
        return [key]

    def _cancel_escalations(self, alert_id: str) -> None:
        for key in [k for k in self._escalations if k.alert_id == alert_id]:
            del self._escalations[key]
            self.open.discard(key)

    def due(self, now: float, stream_now: datetime | None) -> list[Notice]:
        """The notices to send at wall time `now` (unix seconds); escalations judged by `stream_now`."""
        if stream_now is not None:
            for key, esc in list(self._escalations.items()):
                if esc.due <= stream_now:
                    del self._escalations[key]
                    self._queues[key.subscriber].append(esc.item)
        notices: list[Notice] = []
        for sub in self.subscribers.subscribers:
            queue = [i for i in self._queues[sub.name] if i.key not in self.settled]
            if not queue:
                self._queues[sub.name] = []
                continue
            room = self._room(sub, now)
            if room <= 0:
                self._queues[sub.name] = queue
                continue
            if len(queue) <= room:
                batch = [single(sub, item) for item in queue]
            else:
                batch = [digest(sub, queue)]
            self._released[sub.name].extend([now] * len(batch))
            notices += batch
            self._queues[sub.name] = []
        return notices

    def _room(self, sub: Subscriber, now: float) -> int:
        released = self._released[sub.name]
        while released and released[0] <= now - 60:
            released.popleft()
        room = sub.per_minute - len(released)
        if sub.per_second is not None:
            room = min(room, sub.per_second - sum(1 for t in released if t > now - 1))
        return room
