"""Topic declarations and backlog readings shared by the agents."""

from __future__ import annotations

from collections.abc import MutableMapping

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
