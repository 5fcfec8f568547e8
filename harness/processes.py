"""`cx` as a subprocess, the way a user runs it, and what can be read from outside a worker process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CX = str(Path(sys.executable).with_name("cx"))  # the `cx` command of this environment


def cx_sql(query: str, env: dict) -> list[list[str]]:
    """Rows of a query through `cx sql` (the embedded store belongs to the worker process)."""
    wrapped = f"SELECT concat('<', arrayStringConcat(array(*), '~'), '>') AS row FROM ({query})"
    out = subprocess.run([CX, "sql", wrapped], env={**env, "COLUMNS": "400"}, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return [line[line.index("<") + 1 : line.rindex(">")].split("~") for line in out.stdout.splitlines() if "<" in line]


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


STATUS = re.compile(r"case table: (\d+) cases held, (\d+) evicted, (\d+) touchpoints applied")


def worker_status(log: Path) -> tuple[int, int, int] | None:
    """The last case-table figures a worker logged: (cases held, evicted, touchpoints applied)."""
    found = STATUS.findall(log.read_text(errors="replace"))
    return tuple(map(int, found[-1])) if found else None  # type: ignore[return-value]


TRACKED = re.compile(r"tracked: (.*)")


def worker_tracked(log: Path) -> dict[str, int]:
    """The sizes of what a worker tracks, as it last logged them ({} before its first report)."""
    found = TRACKED.findall(log.read_text(errors="replace"))
    return {name: int(size) for name, size in (item.split("=") for item in found[-1].split(", "))} if found else {}


@contextmanager
def ingest_service(kafka_bootstrap: str, topic_prefix: str, tokens: str, **env: str) -> Iterator[str]:
    """`cx ingest --port 0` on loopback, as a user starts it, with `CX_*` `env`; yields its base URL.
    It must stop cleanly (exit 0) on SIGTERM."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": kafka_bootstrap, "CX_TOPIC_PREFIX": topic_prefix, "CX_INGEST_TOKENS": tokens, "COLUMNS": "300", **env,
    }  # fmt: skip
    proc = subprocess.Popen([CX, "ingest", "--port", "0"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not found:
            raise RuntimeError(f"cx ingest did not start: {line}{proc.stdout.read() if proc.poll() is not None else ''}")
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
            if code != 0:
                raise RuntimeError(f"cx ingest exited {code}: {proc.stdout.read()}")
        finally:
            if proc.poll() is None:
                proc.kill()
