"""An event id names one event: the same id arriving again with other content is refused, not merged.

A redelivered message (at-least-once processing, a producer retry) carries the same content and lands
again harmlessly (the tables replace it). A *different* event under an id already used would, under
`FINAL`, silently replace or sit beside the first; landing dead-letters it instead, naming the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from pipeline.store.base import Store
from pipeline.store.tables import EVENT_IDS


def fingerprint(data: bytes) -> int:
    """A 64-bit fingerprint of some bytes (blake2b), as a ClickHouse UInt64."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def content_hash(event: BaseModel) -> int:
    """A 64-bit fingerprint of a validated event."""
    # Defaults left out: a field added to the model later does not change the fingerprint of old events.
    return fingerprint(event.model_dump_json(exclude_defaults=True).encode())


@dataclass(frozen=True, slots=True)
class FirstUse:
    """The content an id was first landed with, and where that message came from."""

    content_hash: int
    topic: str
    partition: int
    offset: int

    def describe(self) -> str:
        """Where the first event with this id came from, for the dead letter's reason."""
        return f"{self.topic} partition {self.partition} offset {self.offset}"


# (table, ids) -> the first use of each id already landed there; ids not landed yet are absent.
FirstUses = Callable[[str, Sequence[str]], Mapping[str, FirstUse]]


def nothing_landed(table: str, ids: Sequence[str]) -> Mapping[str, FirstUse]:
    """A lookup for a first batch or a test without ClickHouse: no id used before."""
    return {}


def first_uses(store: Store, table: str, ids: Sequence[str]) -> dict[str, FirstUse]:
    """The first landed content of each of `ids` in `table`, from `cx.event_ids` (a primary-key lookup)."""
    first = ", ".join(f"argMin({c}, ingested_at)" for c in ("content_hash", "kafka_topic", "kafka_partition", "kafka_offset"))
    _, rows = store.query(
        f"SELECT id, {first} FROM {EVENT_IDS} WHERE source = {{source:String}} AND id IN {{ids:Array(String)}} GROUP BY id",
        {"source": table, "ids": list(ids)},
    )
    return {row[0]: FirstUse(int(row[1]), row[2], int(row[3]), int(row[4])) for row in rows}
