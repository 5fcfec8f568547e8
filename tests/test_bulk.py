"""The landing agents' buffer of fetched messages: taken in lists, bounded, emptied by a rebalance."""

import asyncio

from faust.types import Message

from streams.kafka.bulk import Bulk
from tests.records import fetched


def _messages(first: int, n: int, partition: int = 0) -> list[Message]:
    return fetched("cx.touchpoints", partition, range(first, first + n))


def test_a_take_returns_at_once_when_enough_came():
    async def run():
        bulk = Bulk(capacity=100)
        bulk.put(_messages(0, 7))
        started = asyncio.get_running_loop().time()
        taken = await bulk.take(5, within=10.0)
        return taken, asyncio.get_running_loop().time() - started, len(bulk)

    taken, waited, left = asyncio.run(run())
    assert [m.offset for m in taken] == [0, 1, 2, 3, 4] and left == 2
    assert waited < 1.0


def test_a_take_brings_along_what_already_waits_up_to_its_cap():
    async def run():
        bulk = Bulk(capacity=100)
        bulk.put(_messages(0, 12))
        started = asyncio.get_running_loop().time()
        first = await bulk.take(5, within=10.0, most=9)  # enough came: no waiting, and 4 more go along
        second = await bulk.take(5, within=0.05, most=9)  # 3 left, fewer than enough: the window passes
        return first, second, asyncio.get_running_loop().time() - started

    first, second, waited = asyncio.run(run())
    assert [m.offset for m in first] == list(range(9))
    assert [m.offset for m in second] == [9, 10, 11]
    assert waited < 1.0


def test_a_take_gathers_what_comes_within_the_window_after_the_first():
    async def run():
        bulk = Bulk(capacity=100)

        async def arrive():
            await asyncio.sleep(0.05)
            bulk.put(_messages(0, 2))
            await asyncio.sleep(0.05)
            bulk.put(_messages(2, 1, partition=1))

        feeding = asyncio.ensure_future(arrive())
        taken = await bulk.take(10, within=0.3)
        await feeding
        return taken

    taken = asyncio.run(run())
    assert [(m.partition, m.offset) for m in taken] == [(0, 0), (0, 1), (1, 2)]


def test_a_take_that_may_not_wait_returns_empty_on_an_idle_stream():
    async def run():
        return await Bulk(capacity=10).take(5, within=0.05, wait=False)

    assert asyncio.run(run()) == []


def test_a_full_bulk_makes_the_fetch_wait_until_a_take_leaves_room():
    async def run():
        bulk = Bulk(capacity=4)
        bulk.put(_messages(0, 6))
        room = asyncio.ensure_future(bulk.room())
        await asyncio.sleep(0.02)
        full_waited = not room.done()
        await bulk.take(3, within=0.0)  # 3 left: below the capacity
        await asyncio.wait_for(room, 1.0)
        return full_waited

    assert asyncio.run(run())


def test_a_rebalance_drops_what_was_not_taken_and_makes_room():
    async def run():
        bulk = Bulk(capacity=2)
        bulk.put(_messages(0, 5))
        bulk.clear()  # what Faust's flow control does when a rebalance starts
        await asyncio.wait_for(bulk.room(), 1.0)
        taken = await bulk.take(5, within=0.05, wait=False)
        bulk.put(_messages(0, 1))  # read again from the committed offset
        again = await bulk.take(5, within=0.0)
        return taken, again

    taken, again = asyncio.run(run())
    assert taken == [] and [m.offset for m in again] == [0]
