"""The notifier's engine: alerts in, notices out, each settled in the ledger. asyncio, no Kafka.

`offer` takes a batch of alerts as consumed; `pump` releases what the dispatcher says is due (the
agent's timer calls it); one task per subscriber sends its notices in order, so a slow or dead
endpoint holds up only its own subscriber.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial

from pipeline.alerts.dispatch import Dispatcher
from pipeline.alerts.notice import Key, Notice
from pipeline.alerts.render import Renderer
from pipeline.alerts.subscribers import SubscribersFile, load_subscribers
from pipeline.cases.book import StreamClock
from pipeline.cases.rows import Alert
from pipeline.config import Settings
from pipeline.delivery.context import last_customer_messages
from pipeline.delivery.ledger import Ledger, delivery_rows
from pipeline.delivery.send import Sender
from pipeline.sla.policy import load_policy
from pipeline.store import Store, StoreError

log = logging.getLogger("cx.notify")

LastMessages = Callable[[Sequence[Alert]], dict[str, str]]


class NoticeRunner:
    """Routes alerts, sends notices under each subscriber's limits, records every outcome once."""

    def __init__(
        self,
        subscribers: SubscribersFile,
        sender: Sender,
        ledger: Ledger,
        clock: StreamClock,
        last_messages: LastMessages | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.dispatcher = Dispatcher(subscribers)
        self.sender = sender
        self.ledger = ledger
        self.clock = clock
        self.last_messages = last_messages
        self._wall = wall
        self._outbox: dict[str, deque[Notice]] = {s.name: deque() for s in subscribers.subscribers}
        self._tasks: dict[str, asyncio.Task] = {}
        self.alerts_taken = 0  # alert messages taken off the topic
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (subscriber, delivered|failed) -> notices

    async def offer(self, batch: Sequence[tuple[int, Alert]]) -> list[list[Key]]:
        """Route a consumed batch; return, per alert, the keys that must settle before it is acked."""
        ids = {a.alert_id for _, a in batch}
        # The case agent publishes a breach before it writes its row: a kill in between leaves the
        # row to whoever hears of the breach. Written again here (same keys), so every notice has one.
        await self._retry(partial(self.ledger.record_alerts, [a for _, a in batch]))
        known = await asyncio.to_thread(self.ledger.settled, ids)
        self.dispatcher.settle(known)
        messages: dict[str, str] = {}
        if self.last_messages is not None:
            try:
                messages = await asyncio.to_thread(self.last_messages, [a for _, a in batch])
            except StoreError as exc:  # context is a nicety; the notice goes without it
                log.warning("no last messages for notices: %s", exc)
        now = self._wall()
        out = []
        for partition, alert in batch:
            # One clock for escalations: alerts carry their detection time (event time on replay).
            self.clock.observe(0, alert.detected_at)
            keys = self.dispatcher.offer(alert, messages.get(alert.case_id), received_at=now)
            self.alerts_taken += 1
            out.append(keys)
        self.pump()
        return out

    def pump(self) -> None:
        """Release due notices to their subscribers' send queues."""
        stream_now: datetime | None = self.clock.now(0)
        for notice in self.dispatcher.due(self._wall(), stream_now):
            name = notice.subscriber.name
            self._outbox[name].append(notice)
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = asyncio.get_running_loop().create_task(self._drain(name), name=f"notify-{name}")

    async def _drain(self, name: str) -> None:
        outbox = self._outbox[name]
        while outbox:
            notice = outbox[0]
            delivery = await self.sender.deliver(notice)
            await self._record(delivery_rows(notice, delivery))
            outbox.popleft()
            self.dispatcher.settle(notice.keys)
            self.outcomes[(name, delivery.status)] += 1
            if delivery.status == "failed":
                log.error("notice %s to %s failed: %s", notice.delivery_id, name, delivery.error)

    async def _record(self, rows: list[dict]) -> None:
        await self._retry(partial(self.ledger.record, rows))

    async def _retry(self, write: Callable[[], None]) -> None:
        pause = 0.5
        while True:
            try:
                return await asyncio.to_thread(write)
            except StoreError as exc:
                # Rows and ledger must hold before the alert is acked: wait ClickHouse out.
                log.error("ClickHouse write for notices failed, retrying in %.1fs: %s", pause, exc)
                await asyncio.sleep(pause)
                pause = min(30.0, pause * 2)

    def is_settled(self, keys: Iterable[Key]) -> bool:
        """Whether every key is delivered, failed or no longer needed."""
        return self.dispatcher.is_settled(keys)

    def tracked(self) -> dict[str, int]:
        """The sizes of what the notifier keeps between batches (bounded: see `Dispatcher`)."""
        d = self.dispatcher
        return {
            "notice_keys_settled": len(d.settled),
            "notice_keys_open": len(d.open),
            "notices_queued": d.queued() + sum(len(o) for o in self._outbox.values()),
            "escalations_armed": d.armed(),
        }

    def busy(self) -> bool:
        """Whether anything due is queued or being sent (escalations not yet due do not count)."""
        return self.dispatcher.queued() > 0 or any(self._outbox.values())

    async def close(self) -> None:
        """Stop sending: unsent notices stay unacked and come back with their alerts."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.sender.close()



def notice_renderer(settings: Settings) -> Renderer:
    """How notices are worded for these settings: Grafana links, times in the SLA policy's zone."""
    return Renderer(settings.grafana_url, load_policy(settings.sla_policy).business_hours.timezone)


def open_notices(settings: Settings, store: Store) -> NoticeRunner | None:
    """The notice runner the settings ask for: None (said once) when CX_ALERTS_CONFIG is unset.
    A bad subscribers file raises AlertsConfigError naming the subscriber and field."""
    if settings.alerts_config is None:
        log.info("CX_ALERTS_CONFIG is not set: breach notices are off")
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    subscribers = load_subscribers(settings.alerts_config, smtp_password=password)
    log.info("breach notices to %d subscribers from %s", len(subscribers.subscribers), settings.alerts_config)
    return NoticeRunner(
        subscribers,
        Sender(notice_renderer(settings)),
        Ledger(store),
        StreamClock(settings.clock, lateness=load_policy(settings.sla_policy).lateness),
        last_messages=partial(last_customer_messages, store),
    )
