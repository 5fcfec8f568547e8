"""Helpers the benchmarks share."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

CX = str(Path(sys.executable).with_name("cx"))  # the `cx` command of this environment


def pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted `values` (nearest rank)."""
    return values[min(len(values) - 1, int(q * len(values)))]


def waiting_chat_case(prefix: str, n: int, asked: datetime) -> str:
    """A chat case whose customer asked at `asked` and is never answered (its first response will breach)."""
    return json.dumps({
        "event_id": f"{prefix}-{n}-1", "case_id": f"{prefix}-{n}", "customer_id": f"U{n}", "channel": "chat",
        "kind": "customer_message", "actor": "customer", "ts": asked.isoformat(), "text": "在吗？等了好久了",
    }, ensure_ascii=False)  # fmt: skip


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def work_dir(keep: Path | None) -> Iterator[Path]:
    """`keep` (created, and left in place with its logs), or a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)
