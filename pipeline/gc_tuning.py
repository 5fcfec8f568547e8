"""Garbage collection for long-running stream processes: less often, and not over start-up's objects.

Python collects young objects every 700 allocations; the worker allocates millions a second (events,
pydantic models, Kafka records), and a third of the case agent's time went to those collections.
Measured with the case update alone (decode + `CaseBook.on_events`): 170 -> 111-125 us/touchpoint
at 20,000; 50,000 is no faster.

The case process goes further (`collect_by_hand`): its states are immutable models that reference
counting frees as they are replaced, so its collections found nothing of its own to free, yet
still took ~20% of its time (~15 ms per young collection among its live states): `CaseKeeper`
alone on 184,486 generated touchpoints, 140 -> 113 us/touchpoint. A collection now and then
(`collect_if_due`) still frees whatever cycle a change might bring.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_COLLECTION_EVERY = 20_000
# Collecting by hand: how often, and so how much (what was made since) one collection walks.
BY_HAND_EVERY_SECONDS = 60.0

_collected_at = time.monotonic()


def collect_less() -> None:
    """From now on: leave what is alive out of collections (modules, dictionaries, the model: alive
    until exit) and collect young objects every YOUNG_COLLECTION_EVERY allocations."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


@contextmanager
def collecting_less() -> Iterator[None]:
    """`collect_less` while the block runs; the process's own settings again after it."""
    before = gc.get_threshold()
    collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def collect_by_hand() -> None:
    """No automatic collections in this process from now on: `collect_if_due` does them."""
    gc.disable()


def collect_if_due(every: float = BY_HAND_EVERY_SECONDS) -> None:
    """If `every` seconds passed since the last time: collect what was made since, then leave what
    survived out of later collections (so each walks one period's objects, not the whole heap)."""
    global _collected_at
    if time.monotonic() - _collected_at >= every:
        gc.collect()
        gc.freeze()
        _collected_at = time.monotonic()
