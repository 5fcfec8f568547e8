"""Faust's aiokafka consumer, with the input topics' fetches handed over whole.

The input topics and the case feed (`streams.kafka.bulk`) skip Faust's per-message delivery (a task race, a
channel queue, a stream step and an event ack per message): each fetch's messages of such a topic
go to its `Bulk` at once, in one delivery that a rebalance can cut short as it can any other. They
are tracked as Faust's deliveries are (a rebalance and a stop wait for them to be acked; gaps and
read offsets as `_drain_messages` keeps them). Other topics' messages are delivered as Faust does.

"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.kafka import internals
from streams.kafka.bulk import Bulk


class Consumer(faust_aiokafka.Consumer):
    """The aiokafka consumer with bulk topics."""

    bulks: Mapping[str, Bulk] = {}  # topic name -> its Bulk (given by `Transport`)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's fetch, less the bulk topics' messages: those go to their `Bulk`, a fetch at a time."""
        fetched: dict[str, list[Message]] = {}
        async for tp, message in super().getmany(timeout):
            if tp.topic in self.bulks:
                fetched.setdefault(tp.topic, []).append(message)
            else:
                yield tp, message
        for topic, messages in fetched.items():
            # As Faust's own delivery of a message: a rebalance that starts meanwhile cuts it short.
            await self.wait_first(self._hand_over(self.bulks[topic], messages), self.suspend_flow.wait())

    def fetched_end(self, tp: TP) -> tuple[int, float] | None:
        """The log end of `tp` as its last fetch reported it, and when (seconds since the epoch); None before one."""
        # Faust delegates `highwater` to the aiokafka consumer in its thread but not the fetch's time.
        consumer = internals.kafka_consumer(self)
        end, at_ms = consumer.highwater(tp), consumer.last_poll_timestamp(tp)
        return None if end is None or at_ms is None else (end, at_ms / 1000)

    def start_position(self, tp: TP) -> int:
        """Where reading `tp` began on this assignment (its committed offset; 0 without one). Only
        meaningful until messages of `tp` are handed over (the read offset then follows them)."""
        return internals.read_offsets(self).get(tp) or 0

    async def _hand_over(self, bulk: Bulk, messages: list[Message]) -> None:
        await self.app.flow_control.acquire()  # none while the app's flow is suspended (recovery)
        await bulk.room()
        # What `_drain_messages` does per message: drop what was read before a seek, note gaps
        # (offsets with no message: compaction, transaction markers) so commits can pass them.
        read = internals.read_offsets(self)
        kept: list[Message] = []
        gaps: list[tuple[TP, int, int]] = []
        last: dict[TP, int | None] = {}
        for message in messages:
            tp, offset = message.tp, message.offset
            r_offset = last[tp] if tp in last else read[tp]
            if r_offset is not None and offset < r_offset:
                continue
            if r_offset and offset - r_offset > 1:
                gaps.append((tp, r_offset + 1, offset))
            last[tp] = offset
            kept.append(message)
        for tp, start, end in gaps:
            await internals.add_gap(self, tp, start, end)
        for message in kept:
            self.track_message(message)
        read.update(last)
        bulk.put(kept)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with the consumer above; `bulks`: topic name -> `Bulk`."""

    Consumer = Consumer

    def __init__(self, *args: Any, bulks: Mapping[str, Bulk], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bulks = bulks

    def create_consumer(self, *args: Any, **kwargs: Any) -> Consumer:
        """Faust's consumer, given the bulk topics."""
        consumer = super().create_consumer(*args, **kwargs)
        consumer.bulks = self.bulks
        return consumer
