"""Soak: a million generated events through one `cx worker`; its memory at 100k, 500k and 1M events.

    python -m bench.soak [--events 1000000] [--marks 100000,500000] [--evict-after 7d]

The events are fed in stages; after each stage the worker catches up and its resident memory is
read, with the case table's size as the worker logs it (cases held, closed cases evicted) and the
sizes of everything else it tracks (notice keys, commits in flight, caches). Case state is what grows
with traffic, so flat memory from 500k to 1M says it stays bounded. Pass
`--evict-after 100000d` for the baseline without eviction.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import work_dir
from harness.processes import CX, rss_mb, worker_status, worker_tracked
from harness.receivers import Receivers
from pipeline.broker import LocalBroker, ensure_topics
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import produce_lines

def soak(bootstrap: str, workdir: Path, marks: list[int], evict_after: str, seed: int = 5, stall_after: float = 300.0) -> list[dict]:
    """Feed up to each mark, wait until the worker applied it all, then read its memory."""
    tag = f"soak{os.getpid()}"
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=f"{tag}.", app_id=tag)
    ensure_topics(settings)
    # A history that ends before now: validation refuses events more than a day ahead of the wall
    # clock, and the default start (2026-11-02) plus ~20 days of a million events would reach past it.
    ends = datetime.now(UTC)
    lines = generate(marks[-1], seed=seed, start=ends - timedelta(days=30), until=ends).lines
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix, "CX_APP_ID": tag,
        "CX_DATA_DIR": str(workdir / "cx"), "CX_REPORT_PORT": "off", "CX_CASE_EVICT_AFTER": evict_after,
        # Event time throughout: the worker idles between stages, and on the wall clock it would judge
        # (and evict) the whole generated history at once.
        "CX_CLOCK": "event",
        # Against Tansu, as the README says: short group joins.
        "CX_KAFKA_SESSION_TIMEOUT": "6",
    }  # fmt: skip
    log = workdir / "worker.log"
    rows = []
    # Breach notices to a webhook on loopback, so the notifier's memory is part of what is measured.
    receivers = Receivers()
    subscribers = workdir / "subscribers.yaml"
    subscribers.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{receivers.url('webhook')}', rate_limit_per_minute: 600}}\n")
    env["CX_ALERTS_CONFIG"] = str(subscribers)
    with receivers, open(log, "w") as out:
        # -v: Faust's and aiokafka's rebalance and recovery steps go to the log too.
        worker = subprocess.Popen([CX, "worker", "-v"], env=env, stdout=out, stderr=out)
        try:
            started, fed, peak, touchpoints = time.monotonic(), 0, 0.0, 0
            for mark in marks:
                sent = produce_lines(settings, lines[fed:mark])
                if sent.invalid or sent.unsent or sent.too_large:
                    raise RuntimeError(f"the feed up to {mark:,} was not all valid and sent: {sent}")
                fed, touchpoints = mark, touchpoints + sent.touchpoints
                moved, last = time.monotonic(), None
                while (now := worker_status(log)) is None or now[2] < touchpoints:
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker exited ({worker.returncode}): see {log}")
                    if (applied := now and now[2]) != last:
                        moved, last = time.monotonic(), applied
                    elif time.monotonic() - moved > stall_after:
                        raise RuntimeError(f"stalled at {now} of {touchpoints} touchpoints for {stall_after:.0f} s: see {log}")
                    peak = max(peak, rss_mb(worker.pid))
                    time.sleep(1.0)
                held, evicted, applied = now
                rows.append({
                    "events": mark, "touchpoints_applied": applied, "cases_held": held, "cases_evicted": evicted,
                    "rss_mb": round(rss_mb(worker.pid), 1), "peak_rss_mb": round(max(peak, rss_mb(worker.pid)), 1),
                    "seconds": round(time.monotonic() - started, 1), "tracked": worker_tracked(log),
                })  # fmt: skip
                print(rows[-1], flush=True)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--marks", default="100000,500000", help="event counts to read the memory at, before --events")
    parser.add_argument("--evict-after", default="7d", help="CX_CASE_EVICT_AFTER for the worker")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (worker and broker logs)")
    args = parser.parse_args()
    marks = sorted({*(int(m) for m in args.marks.split(",") if m), args.events})
    with work_dir(args.keep) as workdir, LocalBroker(log=workdir / "broker.log") as broker:
        rows = soak(broker.bootstrap, workdir, marks, args.evict_after)
    print(f"soak: one `cx worker`, CX_CASE_EVICT_AFTER={args.evict_after}")
    print(f"  {'events':>9} {'applied':>9} {'cases held':>10} {'evicted':>8} {'RSS MB':>7} {'peak MB':>8} {'s':>6}")
    for r in rows:
        print(
            f"  {r['events']:>9,} {r['touchpoints_applied']:>9,} {r['cases_held']:>10,} {r['cases_evicted']:>8,}"
            f" {r['rss_mb']:>7} {r['peak_rss_mb']:>8} {r['seconds']:>6}"
        )
    print(f"  RSS growth, last stage / first: {rows[-1]['rss_mb'] / rows[0]['rss_mb']:.2f}x")
    print("  what the worker tracks (its last report before each mark):")
    for name in rows[-1]["tracked"]:
        print(f"    {name:24}", "  ".join(f"{r['tracked'].get(name, '-'):>8}" for r in rows))


if __name__ == "__main__":
    main()
