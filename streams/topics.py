"""Topic declarations and backlog readings shared by the agents."""

from __future__ import annotations

import faust
from faust.types import TP

from pipeline.config import Settings


def raw_topic(app: faust.App, settings: Settings, name: str) -> faust.TopicT:
    """A contract topic (with the configured prefix) carrying raw bytes: the agents parse themselves."""
    return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")


def unread_after(app: faust.App, tp: TP, offset: int) -> int:
    """Messages on `tp` after `offset` still to read, by the log end the consumer last fetched; 0 for
    a partition no longer assigned (it delivers nothing more here)."""
    if tp not in app.consumer.assignment():
        return 0
    highwater = app.consumer.highwater(tp)
    return max(0, highwater - offset - 1) if highwater is not None else 0
