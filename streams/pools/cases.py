"""The worker's `CaseKeeper` in a process of its own, so case updates use a core the stream does not.

Only case-feed bytes go in and `CaseWrites` (rows, messages, changelog JSON) comes out: the states stay
in that process (shipping them both ways cost more than the update itself). Calls run one at a time,
in the order made. With `own_process=False` the same keeper runs in a thread of this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.cases.book import ClockMode
from pipeline.cases.clock import MAX_CLOCK_AHEAD, ODD_TIME_JUMP
from pipeline.cases.keeper import CaseKeeper, CaseWrites, Stored
from pipeline.children import start_now, worker_processes
from pipeline.gc_tuning import collect_by_hand, collect_if_due
from pipeline.sla.policy import load_policy

_keeper: CaseKeeper | None = None  # the case process's one keeper


def _start_keeper(
    policy: Path | None, clock: ClockMode, settle_after: timedelta, evict_after: timedelta, ahead: timedelta, jump: timedelta
) -> None:
    global _keeper
    _keeper = CaseKeeper(load_policy(policy), clock, settle_after, evict_after, ahead, jump)
    collect_by_hand()  # the states make no garbage cycles (pipeline.gc_tuning): collections only cost


def _call(method: str, *args: Any) -> Any:
    assert _keeper is not None, "the case process starts its keeper first"
    result = getattr(_keeper, method)(*args)
    collect_if_due()
    return result


class CaseProcess:
    """Async access to one `CaseKeeper` running in a process of its own (or a thread)."""

    def __init__(
        self,
        policy: Path | None = None,
        clock: ClockMode = "auto",
        settle_after: timedelta = timedelta(minutes=10),
        evict_after: timedelta = timedelta(days=7),
        own_process: bool = True,
        ahead: timedelta = MAX_CLOCK_AHEAD,
        jump: timedelta = ODD_TIME_JUMP,
    ):
        self._executor: Executor
        self._keeper: CaseKeeper | None = None
        if own_process:
            # The states are in the changelog: the process may end with the worker however it ends.
            self._executor = worker_processes(1, _start_keeper, policy, clock, settle_after, evict_after, ahead, jump)
        else:
            self._keeper = CaseKeeper(load_policy(policy), clock, settle_after, evict_after, ahead, jump)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="cx-cases")

    async def _run(self, method: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._keeper is None:
            return await loop.run_in_executor(self._executor, _call, method, *args)
        return await loop.run_in_executor(self._executor, getattr(self._keeper, method), *args)

    async def on_events(
        self, packs: Sequence[tuple[int, bytes]], behind: Iterable[int], still: Mapping[int, float] | None = None
    ) -> CaseWrites:
        """Apply case-feed messages (partition, value); see `CaseKeeper.on_events`."""
        return await self._run("on_events", list(packs), frozenset(behind), dict(still or {}))

    async def on_tick(self, behind: Iterable[int], still: Mapping[int, float] | None = None) -> CaseWrites:
        """Fire what is due; see `CaseKeeper.on_tick`."""
        return await self._run("on_tick", frozenset(behind), dict(still or {}))

    async def rebuild(self, stored: Iterable[Stored], owned: Iterable[int]) -> int:
        """Replace the states with the case table's content; returns the cases on `owned` partitions."""
        return await self._run("rebuild", list(stored), set(owned))

    async def forget(self, partitions: Iterable[int]) -> None:
        """Stop watching the cases of `partitions`."""
        await self._run("forget", set(partitions))

    def start(self) -> Future:
        """Start the process now (imports and the policy take a moment) rather than on the first batch;
        the future is done once it has loaded."""
        return start_now(self._executor)

    def close(self) -> None:
        """Stop the process; what it held is in the changelog."""
        self._executor.shutdown(wait=False, cancel_futures=True)
