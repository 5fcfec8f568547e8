"""What is sent: a notice for one subscriber about one alert, or a digest of several."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pipeline.alerts.subscribers import Subscriber
from pipeline.cases.rows import Alert

# What a subscriber is told about an alert; the ledger key is (alert_id, status, subscriber).
NoticeStatus = Literal["breach", "recovery", "escalation", "retracted"]
NoticeKind = Literal["breach", "recovery", "escalation", "retracted", "digest", "test"]
_DELIVERY_NS = uuid.UUID("0b7c61d4-8f1e-4d1a-b2f3-5c3f5e0a9d27")


@dataclass(frozen=True, slots=True)
class Key:
    """One thing one subscriber must hear once: the ledger's key."""

    alert_id: str
    status: NoticeStatus
    subscriber: str


@dataclass(frozen=True, slots=True)
class Item:
    """An alert as a subscriber will read it, with the context looked up for it."""

    key: Key
    alert: Alert
    last_message: str | None = None
    received_at: float | None = None  # unix seconds the notifier took the alert off the topic


@dataclass(frozen=True)
class Notice:
    """One message to one subscriber: a single alert, or a digest of several."""

    subscriber: Subscriber
    kind: NoticeKind
    items: tuple[Item, ...]

    @cached_property
    def delivery_id(self) -> str:
        """Stable id of this message (the receiver's idempotency key, `X-CX-Delivery-Id`)."""
        names = "|".join(sorted(f"{k.alert_id}:{k.status}" for k in self.keys))
        return str(uuid.uuid5(_DELIVERY_NS, f"{self.subscriber.name}|{self.kind}|{names}"))

    @property
    def keys(self) -> list[Key]:
        """The ledger keys this message settles."""
        return [i.key for i in self.items]


def single(subscriber: Subscriber, item: Item) -> Notice:
    """A notice about one alert."""
    return Notice(subscriber, item.key.status, (item,))


def digest(subscriber: Subscriber, items: list[Item]) -> Notice:
    """One message standing for many alerts (a storm under the subscriber's rate limit)."""
    return Notice(subscriber, "digest", tuple(items))
