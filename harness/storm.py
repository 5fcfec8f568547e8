"""The rebalance storm: three `cx worker` processes in one group joining and leaving while generated
events flow and a CPU burner competes for the cores; then whether every event landed once, every
alert was raised once, and how long any partition went without progress while it had unread events.

Each worker has its own embedded store (the embedded engine is one process per directory), so
"once" is counted across the three stores: an event on two stores is one whose batch was handed over
unfinished. A watcher outside the workers reads the group's committed offsets and the log ends once a
second, the way an operator's lag monitor would. `python -m bench.storm` and `tests/test_storm.py`
run it."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from harness.processes import CX, cx_sql
from harness.receivers import Receivers
from pipeline.broker import ensure_topics
from pipeline.broker.client import client_config
from pipeline.broker.offsets import end_offsets
from pipeline.broker.topics import BREACHES, CASE_EVENTS, REVIEWS, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import Fed, produce_lines

WORKERS = "abc"
FEED_CHUNKS = 40  # the feed goes in this many parts, spread over the storm


@dataclass
class Stall:
    """A partition with unread events whose committed offset did not move."""

    partition: str
    seconds: float
    committed: int
    end: int
    since: str  # wall-clock time the commit last moved (HH:MM:SS, to find it in the workers' logs)


@dataclass
class StormResult:
    """What was sent, what landed where, and the longest time a partition stood still."""

    events_sent: int
    touchpoints_fed: int
    reviews_fed: int
    invalid_fed: int
    membership_changes: int
    touchpoints: int  # distinct event ids over the three stores' cx.v_touchpoints
    reviews: int
    dlq: int
    events_on_two_stores: int  # landed by two workers: work redone after a handover
    alerts: int  # distinct (alert, status) over the three stores
    # An alert (id, status) whose rows differ between stores (deadline, detection, end): two workers
    # decided it differently (must be 0). The same row on two stores is normal: the notifier writes
    # the alerts it hears of into its own store too.
    alerts_decided_differently: int
    breaches_told: int  # distinct breaches the webhook received
    # Breaches in the stores the webhook never received (must be 0). A breach retracted while its
    # notice still waited for a slot is rightly never sent: those are counted apart.
    breaches_untold: int
    breaches_without_ledger_row: int  # the same breaches that no store's notice ledger holds as delivered
    notices_received: int  # distinct deliveries (X-CX-Delivery-Id) the webhook accepted
    repeated_notices: int  # deliveries the webhook got again (same id: a handover before the ledger held it)
    longest_stall: Stall | None  # the longest stretch of a partition with unread events and no commit
    stalls_over_30s: list[Stall] = field(default_factory=list)
    breaches_retracted_untold: int = 0  # retracted before their notice went out: told neither (by design)
    # Breaches told, then retracted, without the 误报撤回 notice. Not 0 here: each worker has its own
    # embedded store, and the notifier that hears of the retraction asks its own ledger whether the
    # breach was told; with one ClickHouse (production) every notifier sees every delivery.
    retractions_untold: int = 0
    seconds: float = 0.0


class GroupWatch(threading.Thread):
    """Once a second: the group's committed offsets and the log ends of its input and case-feed
    partitions; keeps, per partition, how long it has had unread events without a commit moving."""

    def __init__(self, settings: Settings, group: str, topics: tuple[str, ...], period: float = 1.0):
        super().__init__(daemon=True)
        self.period = period
        self.stop = threading.Event()
        self.tps = [TopicPartition(settings.topic(t), p) for t in topics for p in range(settings.partitions)]
        # Reads the group's commits without joining it (no subscribe).
        self.group = group
        self.consumer = Consumer(client_config(settings.kafka_bootstrap, **{"group.id": group, "enable.auto.commit": False}))
        self.since: dict[str, tuple[float, int, float]] = {}  # partition -> (when its commit last moved or it caught up, commit)
        self.longest: Stall | None = None
        self.over: dict[str, Stall] = {}  # the longest stall over the limit per partition
        self.limit = 30.0
        self.lag: dict[str, int] = {}  # partition -> unread events at the last look

    def caught_up(self) -> bool:
        """Whether, at the last look, every partition was committed to its end."""
        return len(self.lag) == len(self.tps) and not any(self.lag.values())

    def truly_caught_up(self, bootstrap: str) -> bool:
        """Whether every partition is committed to its end as its last records say (Tansu reports a
        log's end one batch short, so the once-a-second look can call a group done too early)."""
        committed = Consumer(client_config(bootstrap, **{"group.id": self.group, "enable.auto.commit": False}))
        try:
            offsets = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in committed.committed(self.tps, timeout=10)}
        finally:
            committed.close()
        ends = asyncio.run(end_offsets(bootstrap, list(offsets)))
        return all(offsets[(tp.topic, tp.partition)] >= end for tp, end in ends.items())

    def run(self) -> None:
        try:
            while not self.stop.wait(self.period):
                self._look()
        finally:
            self.consumer.close()

    def _look(self) -> None:
        try:
            committed = self.consumer.committed(self.tps, timeout=5)
        except Exception:  # the broker busy: the next look counts the time anyway
            return
        now = time.monotonic()
        for tp in committed:
            name = f"{tp.topic}:{tp.partition}"
            try:
                # Tansu may report the end one batch short (pipeline.broker.offsets): unread events are
                # undercounted by at most a batch, never invented.
                _, end = self.consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=5, cached=False)
            except Exception:
                continue
            offset = max(tp.offset, 0)
            self.lag[name] = max(0, end - offset)
            last = self.since.get(name)
            if offset >= end or last is None or last[1] != offset:
                self.since[name] = (now, offset, time.time())
                continue
            stall = Stall(name, round(now - last[0], 1), offset, end, time.strftime("%H:%M:%S", time.localtime(last[2])))
            if self.longest is None or stall.seconds > self.longest.seconds:
                self.longest = stall
            if stall.seconds > self.limit and stall.seconds > self.over.get(name, stall).seconds - 0.01:
                self.over[name] = stall


def run_storm(
    bootstrap: str, workdir: Path, events: int, changes: int, seed: int = 11, feed_seconds: float = 90.0, burner: bool = True, log=print
) -> StormResult:
    """Feed `events` over about `feed_seconds` while workers join and leave `changes` times; return the figures."""
    started = time.monotonic()
    rng = random.Random(seed)
    tag = f"storm{os.getpid()}x{seed}"
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=f"{tag}.", app_id=tag, partitions=4)
    ensure_topics(settings)
    workload = generate(events, seed=seed, malformed=max(1, events // 500))
    workers: dict[str, subprocess.Popen] = {}
    logs = {name: workdir / f"worker-{name}.log" for name in WORKERS}
    burn = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if burner else None
    watch = GroupWatch(settings, settings.app_id, (TOUCHPOINTS, REVIEWS, CASE_EVENTS))
    notices = GroupWatch(settings, f"{settings.app_id}-notify", (BREACHES,))  # caught up: every alert dealt with
    with Receivers() as rx:
        subscribers = workdir / "subscribers.yaml"
        subscribers.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{rx.url('webhook')}', rate_limit_per_minute: 1000000}}\n")
        base = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
            "CX_KAFKA_BOOTSTRAP": bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix, "CX_APP_ID": tag,
            "CX_PARTITIONS": "4", "CX_KAFKA_SESSION_TIMEOUT": "6", "CX_REPORT_PORT": "off",
            "CX_ALERTS_CONFIG": str(subscribers), "CX_FLUSH_SECONDS": "0.5",
        }  # fmt: skip
        envs = {n: base | {"CX_DATA_DIR": str(workdir / n)} for n in WORKERS}

        def start(name: str) -> None:
            workers[name] = subprocess.Popen([CX, "worker", "-v"], env=envs[name], stdout=logs[name].open("a"), stderr=subprocess.STDOUT)

        def leave(name: str) -> None:
            worker = workers.pop(name)
            worker.send_signal(signal.SIGTERM)
            if worker.wait(timeout=120) != 0:
                raise RuntimeError(f"worker {name} exited {worker.returncode} on SIGTERM: see {logs[name]}")

        def check_alive() -> None:
            for name, worker in workers.items():
                if worker.poll() is not None:
                    raise RuntimeError(f"worker {name} exited by itself ({worker.returncode}): see {logs[name]}")

        fed: list[Fed] = []

        def feed() -> None:
            chunk = -(-len(workload.lines) // FEED_CHUNKS)
            for i in range(0, len(workload.lines), chunk):
                fed.append(produce_lines(settings, workload.lines[i : i + chunk]))
                time.sleep(feed_seconds / FEED_CHUNKS)

        feeder = threading.Thread(target=feed, daemon=True)
        try:
            start("a")
            watch.start()
            notices.start()
            feeder.start()
            for k in range(changes):
                gap = rng.uniform(6.0, 14.0)
                end = time.monotonic() + gap
                while time.monotonic() < end:
                    check_alive()
                    time.sleep(0.2)
                idle = [n for n in WORKERS if n not in workers]
                if len(workers) == 1 or (idle and rng.random() < 0.5):
                    name = rng.choice(idle)
                    start(name)
                    what = "joins"
                else:
                    name = rng.choice(sorted(workers))
                    leave(name)
                    what = "leaves"
                log(f"change {k + 1}/{changes} after {gap:.1f}s: worker {name} {what} ({''.join(sorted(workers))} running)")
            feeder.join()
            sent = Fed(*(sum(getattr(f, a) for f in fed) for a in ("touchpoints", "reviews", "invalid")))
            if any(f.unsent or f.too_large for f in fed):
                raise RuntimeError("the broker did not take every line")
            # The group finishes with whoever is in it: wait until every partition is committed to
            # its end and stays so (the notifiers' too: every alert dealt with), then stop them all and count.
            quiet_since = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                check_alive()
                if watch.caught_up() and notices.caught_up():
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 10 and watch.truly_caught_up(bootstrap) and notices.truly_caught_up(bootstrap):
                        break
                else:
                    quiet_since = None
                time.sleep(1.0)
            for name in sorted(workers):
                leave(name)
        finally:
            watch.stop.set()
            notices.stop.set()
            for worker in workers.values():
                worker.kill()
                worker.wait()
            if burn is not None:
                burn.kill()
                burn.wait()
        watch.join()
        notices.join()
        log(f"longest stall: {watch.longest}; over 30 s: {list(watch.over.values())}")
        delivery_ids = Counter(r.headers.get("X-CX-Delivery-Id") for r in rx.accepted("webhook"))
        told = {(a["alert_id"], a["status"]) for r in rx.accepted("webhook") for a in r.body.get("alerts") or [r.body]}
        received, repeated = len(delivery_ids), sum(c - 1 for c in delivery_ids.values())

    rows = {
        n: cx_sql(
            "SELECT 'tp', event_id, '' FROM cx.v_touchpoints UNION ALL SELECT 'rv', review_id, '' FROM cx.v_reviews"
            " UNION ALL SELECT 'dl', toString(cityHash64(source_topic, kafka_partition, kafka_offset)), '' FROM cx.v_dlq"
            " UNION ALL SELECT 'al', alert_id, status FROM cx.v_alerts"
            " UNION ALL SELECT 'ad', alert_id, concat(status, '|', toString(deadline), '|', toString(detected_at), '|', ifNull(toString(ended_at), '')) FROM cx.v_alerts"
            " UNION ALL SELECT 'nt', alert_id, notice_status FROM cx.v_alert_deliveries WHERE status = 'delivered'",
            envs[n],
        )
        for n in WORKERS
        if (workdir / n).exists()
    }
    per = {kind: Counter() for kind in ("tp", "rv", "dl", "al", "ad", "nt")}
    for store in rows.values():
        for kind, key, status in store:
            per[kind][(key, status)] += 1
    retracted = {alert for alert, status in per["al"] if status == "retracted"}
    breaches = {k for k in per["al"] if k[1] == "breach" and k[0] not in retracted}
    false_breaches = {k for k in per["al"] if k[1] == "breach" and k[0] in retracted}
    return StormResult(
        events_sent=sent.total, touchpoints_fed=sent.touchpoints, reviews_fed=sent.reviews, invalid_fed=sent.invalid,
        membership_changes=changes, touchpoints=len(per["tp"]), reviews=len(per["rv"]), dlq=len(per["dl"]),
        events_on_two_stores=sum(1 for kind in ("tp", "rv") for c in per[kind].values() if c > 1),
        alerts=len(per["al"]), alerts_decided_differently=len(per["ad"]) - len(per["al"]),
        breaches_told=len({k for k in told if k[1] == "breach"}), breaches_untold=len(breaches - told),
        breaches_without_ledger_row=len(breaches - set(per["nt"])),
        breaches_retracted_untold=len(false_breaches - told),
        retractions_untold=sum(1 for alert, _ in false_breaches & told if (alert, "retracted") not in told),
        notices_received=received, repeated_notices=repeated,
        longest_stall=watch.longest, stalls_over_30s=sorted(watch.over.values(), key=lambda s: -s.seconds),
        seconds=round(time.monotonic() - started, 1),
    )  # fmt: skip

