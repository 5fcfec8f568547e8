"""The chaos run: `cx worker` killed with SIGKILL at random points while generated events flow,
restarted each time; then every figure that says whether anything was lost or doubled. Only the
user's tools are used: `cx worker` processes, the Kafka topics, `cx sql` on the worker's embedded
store, and a webhook on loopback receiving the breach notices. `python -m bench.chaos` and
`tests/test_chaos.py` run it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.processes import CX, cx_sql, rss_mb
from harness.receivers import Receivers
from pipeline.broker import ensure_topics
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import Fed, produce_lines


@dataclass
class ChaosResult:
    """What was sent, what landed, and what was doubled."""

    events_sent: int
    touchpoints_fed: int
    reviews_fed: int
    invalid_fed: int
    kills: int
    touchpoints: int  # distinct event ids in cx.v_touchpoints
    touchpoint_rows: int  # raw rows (redelivered batches land again; the view shows each once)
    duplicate_touchpoints: int  # event ids the view shows more than once (must be 0)
    reviews: int
    duplicate_reviews: int
    dlq: int
    alerts: int  # distinct (alert, status) in cx.v_alerts
    alert_rows: int
    duplicate_alerts: int  # (alert, status) the view shows more than once (must be 0)
    notices_delivered: int  # distinct (alert, status) the ledger holds as delivered
    alerts_without_notice: int
    notices_without_alert: int  # delivered for an (alert, status) that cx.v_alerts does not hold
    duplicate_notices: int  # notices the receiver got twice (the kill window: accepted, then killed)
    worker_peak_rss_mb: float
    seconds: float


def run_chaos(bootstrap: str, workdir: Path, events: int, kills: int, seed: int = 7, log=print) -> ChaosResult:
    """Feed `events` generated events while killing the worker `kills` times; return the figures."""
    started = time.monotonic()
    rng = random.Random(seed)
    tag = f"chaos{os.getpid()}x{seed}"
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=f"{tag}.", app_id=tag)
    ensure_topics(settings)
    workload = generate(events, seed=seed, malformed=max(1, events // 200))
    with Receivers() as rx:
        subscribers = workdir / "subscribers.yaml"
        subscribers.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{rx.url('webhook')}', rate_limit_per_minute: 1000000}}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
            "CX_KAFKA_BOOTSTRAP": bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix, "CX_APP_ID": tag,
            "CX_DATA_DIR": str(workdir / "cx"), "CX_KAFKA_SESSION_TIMEOUT": "6",
            "CX_REPORT_PORT": "off", "CX_ALERTS_CONFIG": str(subscribers), "CX_FLUSH_SECONDS": "0.5",
        }  # fmt: skip
        worker_log = open(workdir / "worker.log", "a")
        peak = 0.0

        def run_for(seconds: float, sig: int) -> None:
            nonlocal peak
            worker = subprocess.Popen([CX, "worker", "-v"], env=env, stdout=worker_log, stderr=worker_log)
            try:
                end = time.monotonic() + seconds
                while time.monotonic() < end and worker.poll() is None:
                    peak = max(peak, rss_mb(worker.pid))
                    time.sleep(0.2)
                if worker.poll() is not None:
                    raise RuntimeError(f"worker exited by itself ({worker.returncode}): see {workdir / 'worker.log'}")
                worker.send_signal(sig)
                worker.wait(timeout=60)
            finally:
                if worker.poll() is None:  # the harness itself failed or timed out: leave no worker behind
                    worker.kill()
                    worker.wait()

        fed: list[Fed] = []
        feeder = threading.Thread(target=lambda: fed.append(produce_lines(settings, workload.lines)), daemon=True)
        feeder.start()
        for k in range(kills):
            # A start takes ~5-13 s (group join, table recovery): kills land in start-up and mid-stream.
            alive = rng.uniform(6.0, 16.0)
            run_for(alive, signal.SIGKILL)
            log(f"kill {k + 1}/{kills} after {alive:.1f}s")
        feeder.join()
        (sent,) = fed
        if sent.unsent or sent.too_large:
            raise RuntimeError(f"the broker did not take {len(sent.unsent)} lines; {len(sent.too_large)} too large")

        def figures() -> dict:
            (row,) = cx_sql(
                "SELECT (SELECT uniqExact(event_id) FROM cx.v_touchpoints), (SELECT count() FROM cx.touchpoints),"
                " (SELECT count() - uniqExact(event_id) FROM cx.v_touchpoints),"
                " (SELECT uniqExact(review_id) FROM cx.v_reviews), (SELECT count() - uniqExact(review_id) FROM cx.v_reviews),"
                " (SELECT count() FROM cx.v_dlq),"
                " (SELECT uniqExact(alert_id, status) FROM cx.v_alerts), (SELECT count() FROM cx.alerts),"
                " (SELECT count() - uniqExact(alert_id, status) FROM cx.v_alerts),"
                " (SELECT uniqExactIf((alert_id, notice_status), status = 'delivered') FROM cx.v_alert_deliveries),"
                " (SELECT count() FROM cx.v_alerts WHERE (alert_id, status) NOT IN"
                "   (SELECT alert_id, notice_status FROM cx.v_alert_deliveries WHERE status = 'delivered')),"
                " (SELECT uniqExact(alert_id, notice_status) FROM cx.v_alert_deliveries WHERE status = 'delivered'"
                "   AND (alert_id, notice_status) NOT IN (SELECT alert_id, status FROM cx.v_alerts))",
                env,
            )
            names = ["touchpoints", "touchpoint_rows", "duplicate_touchpoints", "reviews", "duplicate_reviews", "dlq",
                     "alerts", "alert_rows", "duplicate_alerts", "notices_delivered", "alerts_without_notice", "notices_without_alert"]  # fmt: skip
            return dict(zip(names, map(int, row)))

        # Then let it finish: run, stop it gracefully, count; until everything fed landed and was told.
        seen: list[dict] = []
        for _ in range(40):
            run_for(45.0, signal.SIGTERM)
            now = figures()
            log(f"after a graceful stop: {now}")
            if (now["touchpoints"], now["reviews"], now["dlq"]) == (sent.touchpoints, sent.reviews, sent.invalid) and not now["alerts_without_notice"]:
                break
            if seen[-2:] == [now, now]:  # three runs without any change: waiting longer will not help
                raise RuntimeError(f"stuck: fed {sent}, landed {now}")
            seen.append(now)
        else:
            raise RuntimeError(f"not everything landed: fed {sent}, landed {now}")
        delivery_ids = Counter(r.headers.get("X-CX-Delivery-Id") for r in rx.accepted())
    return ChaosResult(
        events_sent=sent.total, touchpoints_fed=sent.touchpoints, reviews_fed=sent.reviews, invalid_fed=sent.invalid,
        kills=kills, duplicate_notices=sum(c - 1 for c in delivery_ids.values()), worker_peak_rss_mb=round(peak, 1),
        seconds=round(time.monotonic() - started, 1), **now,
    )  # fmt: skip
