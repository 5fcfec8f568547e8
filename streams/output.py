"""The stream's own output topics (case feed, scores, dead letters, breaches) on a batching producer.

Faust's producer also writes the case table's changelog, which the local broker needs one record
per batch for (see the README's known limits); everything else goes through this producer, which
batches as Kafka's clients normally do and costs far less per message than a Faust send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from pipeline.config import Settings

# Kafka's request.timeout.ms, for this producer and Faust's: a lost response costs a retry, not a
# stall (Faust's own default is 20 minutes).
PRODUCER_REQUEST_TIMEOUT = 30.0  # seconds


class Output:
    """Sends to the contract topics (names behind the configured prefix); delivery is awaited per batch."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the brokers."""
        # acks=all and no idempotence: the transactional/idempotent producer does not run on every
        # broker (Tansu); ClickHouse writes are idempotent, so a retried send is harmless.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            acks="all",
            linger_ms=2,
            request_timeout_ms=int(PRODUCER_REQUEST_TIMEOUT * 1000),
        )
        await self._producer.start()

    async def stop(self) -> None:
        """Deliver what is buffered, then disconnect."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> list[asyncio.Future]:
        """Queue (key, value) messages for the contract topic `topic`; the futures resolve once the
        broker holds each (a key picks the partition as Kafka's default partitioner does)."""
        if self._producer is None:
            raise RuntimeError("the output producer is not started")
        name = self.settings.topic(topic)
        return [await self._producer.send(name, value=value, key=key) for key, value in messages]
