"""Garbage collection for long-running stream processes: less often, and not over start-up's objects.

Python collects young objects every 700 allocations; the worker allocates millions a second (events,
pydantic models, Kafka records), and those collections took a large share of the case agent's time.
A threshold of 20,000 keeps most of the gain (50,000 is no faster; `python -m bench.cases` prints it).

The case process goes further (`collect_by_hand`): its states are immutable models that reference
counting frees as they are replaced, so its collections find nothing of its own to free, yet each
walks every live state. A collection now and then (`collect_if_due`) still frees whatever cycle a
change might bring.
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
