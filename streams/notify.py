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
from streams.topics import raw_topic

log = logging.getLogger("cx.notify")
PUMP_SECONDS = 0.2


def register_notifier(app: faust.App, settings: Settings, runner: NoticeRunner) -> None:
    """Declare the notifier agent and its pump timer on `app`."""
    topic = raw_topic(app, settings, BREACHES)
    waiting: list[tuple[faust.EventT, list[Key]]] = []

    def release() -> None:
        still = []
        for event, keys in waiting:
            if runner.is_settled(keys):
                event.ack()
            else:
                still.append((event, keys))
        waiting[:] = still

    @app.agent(topic, name="notify")
    async def notify(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=PUMP_SECONDS):
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
            keys = await runner.offer([(e.message.partition, a) for e, a in batch])
            waiting.extend((e, k) for (e, _), k in zip(batch, keys))
            release()

    @app.timer(interval=PUMP_SECONDS)
    async def pump() -> None:
        runner.pump()
        release()
