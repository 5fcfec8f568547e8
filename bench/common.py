"""Helpers the benchmarks share."""

from __future__ import annotations

import json
from datetime import datetime


def pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted `values` (nearest rank)."""
    return values[min(len(values) - 1, int(q * len(values)))]


def waiting_chat_case(prefix: str, n: int, asked: datetime) -> str:
    """A chat case whose customer asked at `asked` and is never answered (its first response will breach)."""
    return json.dumps({
        "event_id": f"{prefix}-{n}-1", "case_id": f"{prefix}-{n}", "customer_id": f"U{n}", "channel": "chat",
        "kind": "customer_message", "actor": "customer", "ts": asked.isoformat(), "text": "在吗？等了好久了",
    }, ensure_ascii=False)  # fmt: skip
