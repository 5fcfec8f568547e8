"""A killed worker leaves nothing running: its landing and case processes end with it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.test_broker import _alive

SCRIPT = """
import multiprocessing, sys, time
from pipeline.cases.process import CaseProcess
from pipeline.landing_pool import LandingPool

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
