"""Faust's aiokafka consumer, handing each fetched message to the streams without four tasks.

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
from collections.abc import Coroutine, Generator
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitArgT, WaitResults


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
    """The aiokafka consumer with an inline first step for each message's delivery."""

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
    """Faust's aiokafka transport with the consumer above."""

    Consumer = Consumer
