"""Settings every librdkafka client of ours (`confluent_kafka`) shares."""

from __future__ import annotations

import logging

log = logging.getLogger("cx.kafka")


def client_config(bootstrap: str, **settings: object) -> dict[str, object]:
    """librdkafka settings for `bootstrap`, its log through Python's logging (not written to stderr)."""
    return {"bootstrap.servers": bootstrap, "logger": log, **settings}
