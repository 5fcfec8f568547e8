"""Processes we start (the local broker, landing and case processes) end with the process that
started them, even when it is killed: a SIGKILLed worker must not leave them running."""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from pipeline.gc_tuning import collect_less

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to send this process SIGTERM when its parent dies, by SIGKILL too (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the process outlives a killed parent


def worker_processes(processes: int, initializer: Callable[..., None], *initargs: Any) -> ProcessPoolExecutor:
    """`processes` spawned worker processes that ignore Ctrl-C (the stream stops them), end with this
    process however it ends, run `initializer(*initargs)` (loading what they keep), and then, like the
    worker, leave what they loaded out of garbage collection and collect less often."""
    # spawn: the worker process has broker and ClickHouse threads a fork would copy half-way.
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_child,
        initargs=(initializer, *initargs),
    )


def start_now(executor: Executor) -> None:
    """Start a worker process now (imports and loading take a second or two), not on the first call."""
    executor.submit(_ready)


def _start_child(initializer: Callable[..., None], *initargs: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    initializer(*initargs)
    collect_less()


def _ready() -> bool:
    return True
