"""A killed worker leaves nothing running: its landing and case processes end with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_broker import _alive

SCRIPT = """
import multiprocessing, sys, time
from streams.pools.cases import CaseProcess
from streams.pools.landing import LandingPool

if __name__ == "__main__":
    pool, keeper = LandingPool(1), CaseProcess(clock="event")
    pool.start(); keeper.start()
    deadline = time.monotonic() + 60
    while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # both initializers have run (loading the text model takes a second or two)
    print(*[p.pid for p in multiprocessing.active_children()], flush=True)
    time.sleep(60)
"""


def test_landing_and_case_processes_die_with_a_killed_worker(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) >= 2 and all(map(_alive, children))
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no executor shutdown: only the kernel's signal
        parent.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, children)), "a worker's process outlived it"


RACE = """
import os, signal, sys
from pipeline.children import start_now, worker_processes

def _load():
    pass

if __name__ == "__main__":
    pool = worker_processes(1, _load)
    start_now(pool)
    os.kill(os.getpid(), signal.SIGKILL)  # before the child has even imported what it runs
"""


def test_a_process_whose_parent_was_killed_while_it_started_ends_too(tmp_path):
    script = tmp_path / "racer.py"
    script.write_text(RACE)
    marker = f"cx-race-{tmp_path.name}"
    parent = subprocess.Popen([sys.executable, str(script)], env={**os.environ, "CX_RACE_MARKER": marker})
    parent.wait(timeout=30)
    assert parent.returncode == -signal.SIGKILL

    def orphans() -> list[int]:
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if f"CX_RACE_MARKER={marker}".encode() in environ.read_bytes():
                    found.append(int(environ.parent.name))
            except OSError:
                continue
        return found

    time.sleep(1.0)
    spawned = orphans()
    deadline = time.monotonic() + 20
    while orphans() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = orphans()
    for pid in left:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"spawned {spawned}, still running after their parent was killed: {left}"
