"""Faust's aiokafka consumer: input topics' fetches handed over whole; other messages delivered
without four tasks each.

The landing agents' topics (`streams.bulk`) skip Faust's per-message delivery altogether: each
fetch's messages of such a topic go to its `Bulk` at once, in one delivery that a rebalance can cut
short as it can any other. They are tracked as Faust's deliveries are (a rebalance and a stop wait
for them to be acked; gaps and read offsets as `_drain_messages` keeps them).

Faust delivers every fetched message through `Service.wait_first(callback(message),
suspend_flow.wait())`: four tasks and an `asyncio.wait` per message, so a rebalance (which sets
`suspend_flow`) or a stop can cut a delivery short. That was ~23% of the worker thread on the
200,000-event demo (py-spy `--gil`). Most deliveries finish without waiting (the stream's buffer
has room): this consumer runs the delivery inline until it first waits, and only a delivery that
waits goes the racing way, so what a rebalance or a stop can cut short is unchanged.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator, Coroutine, Generator, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode.services import WaitArgT, WaitResults

from streams.bulk import Bulk


@types.coroutine
def _go_on(coro: Coroutine, waiting_for: Any) -> Generator[Any, Any, Any]:
    # Drive a coroutine that has already run to its first wait, as a task would (`yield from`
    # would resume it before what it waits for is done).
    while True:
        try:
            sent = yield waiting_for
        except BaseException as exc:  # cancellation included: the coroutine handles it
            try:
                waiting_for = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                waiting_for = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _rest(coro: Coroutine, waiting_for: Any) -> Any:
    return await _go_on(coro, waiting_for)


class Consumer(faust_aiokafka.Consumer):
    """The aiokafka consumer with bulk topics and an inline first step for each message's delivery."""

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

    async def _hand_over(self, bulk: Bulk, messages: list[Message]) -> None:
        await self.app.flow_control.acquire()  # none while the app's flow is suspended (recovery)
        await bulk.room()
        # What `_drain_messages` does per message: drop what was read before a seek, note gaps
        # (offsets with no message: compaction, transaction markers) so commits can pass them.
        read = self._read_offset
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
            await self._add_gap(tp, start, end)
        for message in kept:
            self.track_message(message)
        read.update(last)
        bulk.put(kept)

    async def wait_first(self, *coros: WaitArgT, timeout: Any = None) -> WaitResults:
        """`Service.wait_first`, but a delivery that completes without waiting completes inline."""
        delivery = coros[0] if coros else None
        if (
            len(coros) != 2
            or timeout is not None
            or not inspect.iscoroutine(delivery)
            or self.suspend_flow.is_set()
            or self._stopped.is_set()
            or self._crashed.is_set()
        ):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            waiting_for = delivery.send(None)
        except StopIteration as done:
            _close(coros[1])
            return WaitResults([delivery], [done.value], False)
        except BaseException:
            _close(coros[1])
            raise
        return await super().wait_first(_rest(delivery, waiting_for), coros[1])


def _close(waitable: WaitArgT) -> None:
    if inspect.iscoroutine(waitable):
        waitable.close()  # never started: closing it keeps "never awaited" warnings away


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
