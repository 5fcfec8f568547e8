"""Fetched messages handed to the landing agents and the case agent in lists, not as one stream event each.

Faust delivers every message on its own: a task race, a channel queue, a stream step and an ack
through the event, a large share of the worker's thread for topics whose agents only gather them
into batches. The consumer (`streams.kafka.consumer`) puts each fetch's
messages of these topics here whole; the agents take lists and ack them through the consumer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from faust.types import Message


class Bulk:
    """One input topic's fetched messages not yet taken; full past `capacity`, so fetching waits."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._messages: deque[Message] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self._messages)

    def put(self, messages: Iterable[Message]) -> None:
        """Add fetched messages (in the order of their partitions' logs)."""
        self._messages.extend(messages)
        if self._messages:
            self._arrived.set()
        if len(self._messages) >= self.capacity:
            self._room.clear()

    async def room(self) -> None:
        """Wait until the buffer is below its capacity."""
        await self._room.wait()

    def clear(self) -> None:
        """Drop what was not taken: Faust's flow control calls this when a rebalance starts, and the
        new assignment reads those messages again from the committed offsets."""
        self._messages.clear()
        self._arrived.clear()
        self._room.set()

    async def take(self, enough: int, within: float, wait: bool = True, most: int | None = None) -> list[Message]:
        """The messages here once `enough` are, or `within` seconds after the first came; at most
        `most` (default: `enough`).

        Whatever waits beyond `enough` goes along (up to `most`): messages that piled up while the
        batch before was landed and written need not wait for a take of their own, and a busy stream
        lands in fewer, larger batches without any message waiting longer.
        `wait=False`: do not wait for a first message longer than `within` either (the caller holds
        a batch that must not wait on an idle stream). The list may be empty (that, or a rebalance
        cleared the buffer meanwhile)."""
        loop = asyncio.get_running_loop()
        most = max(enough, most or 0)
        if wait:
            while not self._messages:
                await self._arrived.wait()
        deadline = loop.time() + within
        while len(self._messages) < enough and (left := deadline - loop.time()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                break
        taken = [self._messages.popleft() for _ in range(min(most, len(self._messages)))]
        if self._messages:
            self._arrived.set()
        else:
            self._arrived.clear()
        if len(self._messages) < self.capacity:
            self._room.set()
        return taken
