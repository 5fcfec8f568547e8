"""Processes we start (the local broker, landing and case processes) end with the process that
started them, even when it is killed: a SIGKILLed worker must not leave them running."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

from pipeline.gc_tuning import collect_less

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel to send this process SIGTERM when its parent dies, by SIGKILL too (Linux only);
    given the parent's pid, end now if it died before the request was made."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return  # not Linux: the process outlives a killed parent
    # The kernel only signals deaths after the request: a parent killed while this process was still
    # starting (a spawned process imports for a second or more) leaves it orphaned for good.
    if parent is not None and os.getppid() != parent:
        os._exit(0)


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


def start_now(executor: Executor) -> Future:
    """Start a worker process now (imports and loading take a second or two), not on the first call;
    the future is done once it has loaded."""
    return executor.submit(_ready)


def _start_child(initializer: Callable[..., None], *initargs: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    die_with_parent(parent.pid if parent is not None else None)
    initializer(*initargs)
    collect_less()


def _ready() -> bool:
    return True
