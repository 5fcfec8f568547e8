"""Topic declarations, backlog readings and failure handling shared by the agents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableMapping

import faust
from faust.types import TP

from pipeline.config import Settings
from streams.kafka.bulk import Bulk


def raw_topic(app: faust.App, settings: Settings, name: str) -> faust.TopicT:
    """A contract topic (with the configured prefix) carrying raw bytes: the agents parse themselves."""
    return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")


def subscribe_in_bulk(app: faust.App, topic: faust.TopicT, bulks: MutableMapping[str, Bulk], capacity: int) -> Bulk:
    """Subscribe `app` to `topic` with its fetched messages handed over in lists: the `Bulk` (holding
    up to `capacity` messages) that the consumer fills, registered in `bulks` and emptied when a
    rebalance starts."""
    bulk = bulks[topic.get_topic_name()] = Bulk(capacity=capacity)
    app.topics.add(topic)
    app.flow_control.manage_queue(bulk)
    return bulk


def unread_after(app: faust.App, tp: TP, offset: int) -> int:
    """Messages on `tp` after `offset` still to read, by the log end the consumer last fetched; 0 for
    a partition no longer assigned (it delivers nothing more here)."""
    if tp not in app.consumer.assignment():
        return 0
    highwater = app.consumer.highwater(tp)
    return max(0, highwater - offset - 1) if highwater is not None else 0


def fetched_end(app: faust.App, tp: TP) -> tuple[int, float] | None:
    """The log end the consumer last fetched for `tp` and when (seconds since the epoch); None for a
    partition not assigned or not fetched yet."""
    if tp not in app.consumer.assignment():
        return None
    return app.consumer.fetched_end(tp)


def stop_worker_on_failure(app: faust.App, log: logging.Logger, what: str) -> Callable[[asyncio.Task], None]:
    """A done-callback for a write task: if it failed, log `what` failed and stop the worker. What
    follows a failed write is unacked (held back from the commit); the worker's successor is given it
    again rather than this worker going on past it."""

    def check(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed: the worker stops", what, exc_info=task.exception())
            asyncio.ensure_future(app.crash(task.exception()))

    return check
