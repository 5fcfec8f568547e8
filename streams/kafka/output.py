"""The stream's own topics (case feed, scores, dead letters, breaches, the case table's changelog)
on a batching producer: it batches as Kafka's clients normally do and costs far less per message
than a Faust send.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from typing import NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from pipeline.config import Settings

# Kafka's request.timeout.ms, for this producer and Faust's: a lost response costs a retry, not a
# stall (Faust's own default is 20 minutes).
PRODUCER_REQUEST_TIMEOUT = 30.0  # seconds
# The largest record batch the producer builds (Kafka's batch.size; aiokafka's default is 16 KiB).
# Larger batches compress better (changelog JSON: 7x at 16 KiB, 10x at 256 KiB with zstd) and cost
# fewer sends; below the brokers' default message.max.bytes (1 MiB). A case-feed pack fits (256 KiB).
OUTPUT_BATCH_BYTES = 256 * 1024
_PARTITIONER = DefaultPartitioner()  # what AIOKafkaProducer.send uses: murmur2 of the key, like Java's
log = logging.getLogger("cx.output")


class Sent(NamedTuple):
    """Where a batch landed: its partition and the offset of its last message."""

    partition: int
    last_offset: int


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
            compression_type=None if self.settings.output_compression == "none" else self.settings.output_compression,
            max_batch_size=OUTPUT_BATCH_BYTES,
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
        broker holds them (a key picks the partition as Kafka's default partitioner does)."""
        return await self.send_to(self.settings.topic(topic), messages)

    async def send_to(self, name: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> list[asyncio.Future]:
        """`send` to the topic called `name` as it is (an internal topic such as a table's changelog;
        a value None is a tombstone)."""
        partitions = await self._partitions(name)
        return await self._send(name, ((_partition(k, partitions), k, v) for k, v in messages))

    async def send_packed(
        self,
        topic: str,
        messages: Iterable[tuple[bytes, bytes]],
        pack: Callable[[list[bytes]], list[bytes]],
        trailer: bytes | None = None,
    ) -> list[asyncio.Future]:
        """Queue keyed values for `topic` packed per partition: `pack` turns the values whose keys the
        partition takes (Kafka's default partitioner) into the few messages sent there, in order.
        A `trailer` goes to every partition after its values (a report every consumer must see)."""
        name = self.settings.topic(topic)
        partitions = await self._partitions(name)
        values: dict[int, list[bytes]] = {p: [] for p in partitions} if trailer is not None else {}
        for key, value in messages:
            values.setdefault(_partition(key, partitions), []).append(value)
        tail = [trailer] if trailer is not None else []
        return await self._send(name, ((p, None, packed) for p, vs in values.items() for packed in pack(vs + tail)))

    async def _partitions(self, name: str) -> tuple[int, ...]:
        if self._producer is None:
            raise RuntimeError("the output producer is not started")
        return tuple(sorted(await self._producer.partitions_for(name)))

    async def _send(self, name: str, messages: Iterable[tuple[int, bytes | None, bytes | None]]) -> list[asyncio.Future]:
        producer = self._producer
        assert producer is not None
        # One batch per partition, filled here and handed over whole: a send per message costs the
        # worker's one thread a future and a trip through the accumulator each.
        open_batches: dict[int, tuple[BatchBuilder, list[tuple[bytes | None, bytes | None]]]] = {}
        sent: list[asyncio.Future] = []
        for partition, key, value in messages:
            entry = open_batches.get(partition)
            if entry is None or entry[0].append(key=key, value=value, timestamp=None) is None:
                if entry is not None:
                    sent.append(await self._deliver(name, partition, *entry))
                entry = open_batches[partition] = (producer.create_batch(), [])
                entry[0].append(key=key, value=value, timestamp=None)  # a batch's first message always fits
            entry[1].append((key, value))
        for partition, (batch, held) in open_batches.items():
            sent.append(await self._deliver(name, partition, batch, held))
        return sent

    async def _deliver(
        self, name: str, partition: int, batch: BatchBuilder, held: list[tuple[bytes | None, bytes | None]]
    ) -> asyncio.Future:
        """Enqueue `batch` (holding `held`); the future resolves once the broker holds it, to where. A retriable
        failure is an outage, not bad data: the producer gives a batch up once it is older than the
        request timeout (a local Tansu was seen to stall that long under load, answering
        NotLeaderForPartition), and the same messages are then sent again in a new batch, until the
        broker takes them. Only messages of one call can overtake each other that way: the callers
        send distinct keys in a call (a case's changelog record, a pack per partition) and await a
        call's futures before the next."""
        first = await self._enqueue(batch, name, partition)

        async def delivered() -> Sent:
            future = first
            while True:
                try:
                    held_at = await future  # the batch's first offset
                    return Sent(partition, held_at.offset + len(held) - 1)
                except KafkaError as exc:
                    if not exc.retriable:
                        raise
                    log.warning("a batch of %d for %s[%d] failed (%r): sending it again", len(held), name, partition, exc)
                    assert self._producer is not None
                    again = self._producer.create_batch()
                    for key, value in held:
                        again.append(key=key, value=value, timestamp=None)
                    future = await self._enqueue(again, name, partition)

        return asyncio.ensure_future(delivered())

    async def _enqueue(self, batch: BatchBuilder, name: str, partition: int) -> asyncio.Future:
        """Hand a batch to the producer; the future resolves once the broker holds it."""
        assert self._producer is not None
        while True:
            try:
                return await self._producer.send_batch(batch, name, partition=partition)
            except KafkaTimeoutError:
                # No room for it within the request timeout (the partition's batch before it was not
                # sent, or no metadata came): the broker is stalled or away (a local Tansu was seen
                # not to answer for 30 s under load). An outage is waited out; this batch was not
                # queued, so queueing it again sends it once. If the one before fails, its future
                # says so and the events behind it are redelivered.
                log.warning("no batch for %s[%d] taken within the request timeout (the broker is stalled?): waiting", name, partition)


def _partition(key: bytes | None, partitions: tuple[int, ...]) -> int:
    """The partition Kafka's default partitioner picks for `key` (None: any)."""
    return _PARTITIONER(None, partitions, partitions) if key is None else _keyed_partition(key, partitions)


@functools.lru_cache(maxsize=1 << 16)
def _keyed_partition(key: bytes, partitions: tuple[int, ...]) -> int:
    # Cached: a case's id comes back with each of its events and state changes, and murmur2 is pure
    # Python in aiokafka.
    return _PARTITIONER(key, partitions, partitions)


def keyed_partitions_cached() -> int:
    """Keys whose partition is cached (bounded by the cache's size)."""
    return _keyed_partition.cache_info().currsize
