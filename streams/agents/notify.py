"""The notifier agent: breaches and recoveries off `cx.breaches` -> notices, in its own consumer group.

Each alert's message stays unacked until every notice it calls for is delivered or recorded as
failed (escalations included), so a restart re-reads exactly what was not dealt with and the
ledger skips what was.
"""

from __future__ import annotations

import logging

import faust
from pydantic import ValidationError

from pipeline.alerts.notice import Key
from pipeline.broker.topics import BREACHES
from pipeline.cases.rows import Alert
from pipeline.config import Settings
from pipeline.delivery import NoticeRunner
from streams.kafka.topics import raw_topic

log = logging.getLogger("cx.notify")
PUMP_SECONDS = 0.2


class NotifierAgent:
    """Takes alerts off `cx.breaches`, offers them to the notice runner, and acks each message once
    every notice it calls for is settled."""

    def __init__(self, app: faust.App, settings: Settings, runner: NoticeRunner):
        self.app, self.settings, self.runner = app, settings, runner
        self.topic = raw_topic(app, settings, BREACHES)
        self.waiting: list[tuple[faust.EventT, list[Key]]] = []  # offered, not settled yet

    def register(self) -> None:
        """Declare the agent and its pump timer on the app."""
        self.app.agent(self.topic, name="notify")(self.take)
        self.app.timer(interval=PUMP_SECONDS)(self.pump)

    async def take(self, stream: faust.StreamT) -> None:
        """Offer the alerts as they come, a batch at a time."""
        async for events in stream.take_events(self.settings.batch_size, within=PUMP_SECONDS):
            batch = []
            for event in events:
                try:
                    alert = Alert.model_validate_json(event.message.value or b"")
                except ValidationError as exc:
                    # Only our case agent writes this topic: a bad message is a bug, not a notice.
                    log.error("not an alert on %s at offset %s: %s", BREACHES, event.message.offset, exc)
                    continue
                event.message.incref()  # held until its notices settle (take_events acks the batch)
                batch.append((event, alert))
            keys = await self.runner.offer([(e.message.partition, a) for e, a in batch])
            self.waiting.extend((e, k) for (e, _), k in zip(batch, keys))
            self.release()

    async def pump(self) -> None:
        """Send what is due (digests, escalations, retries) and release what settled."""
        self.runner.pump()
        self.release()

    def release(self) -> None:
        """Ack the alerts whose notices are all delivered or recorded as failed."""
        still = []
        for event, keys in self.waiting:
            if self.runner.is_settled(keys):
                event.ack()
            else:
                still.append((event, keys))
        self.waiting = still
