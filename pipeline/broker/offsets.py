"""End offsets read from the records themselves, right on brokers that report a batch as one record.

Tansu answers `ListOffsets(latest)` with the last batch's base offset + 1: after three batches of
ten records it says 21, not 30. Reading from one before that (the last batch's base, or on Kafka the
last record) returns the last batch whole; its last record + 1 is the end on either broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger("cx.broker")
READ_TIMEOUT = 10.0  # seconds to wait for the last batches before trusting the reported ends


async def end_offsets(bootstrap: str, partitions: Iterable[tuple[str, int]]) -> dict[TopicPartition, int]:
    """The offset after each partition's last record (0 for an empty partition)."""
    tps = [TopicPartition(topic, partition) for topic, partition in partitions]
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="cx-end-offsets")
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = dict(await consumer.end_offsets(tps))
        unread = {tp for tp, end in ends.items() if end > 0}
        for tp in unread:
            consumer.seek(tp, ends[tp] - 1)
        deadline = time.monotonic() + READ_TIMEOUT
        while unread and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(*unread, timeout_ms=500)).items():
                if records:
                    ends[tp] = max(ends[tp], records[-1].offset + 1)
                    unread.discard(tp)
        if unread:
            log.warning("no records read at the end of %s: using the ends the broker reported", sorted(unread))
        return ends
    finally:
        await consumer.stop()
