"""Topic declarations and batch acknowledgement shared by the agents."""

from __future__ import annotations

from collections.abc import Iterable

import faust

from pipeline.config import Settings


def raw_topic(app: faust.App, settings: Settings, name: str) -> faust.TopicT:
    """A contract topic (with the configured prefix) carrying raw bytes: the agents parse themselves."""
    return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")


def keep_unacked(events: Iterable[faust.EventT]) -> None:
    """Hold back a failed batch: `take_events` acks it on the way out, and an extra reference keeps
    the messages unacked, so their offsets are not committed and they are redelivered."""
    for event in events:
        event.message.incref()
