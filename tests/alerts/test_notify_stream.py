"""Notices through the real stream: `cx demo --input` with loopback receivers, and a worker killed
with SIGKILL in the middle of deliveries."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from pipeline.broker import ensure_topics
from pipeline.config import Settings

from harness.processes import cx_sql

from .helpers import make_alert
from harness.receivers import Receivers

CX = str(Path(sys.executable).with_name("cx"))
SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _env(data_dir: Path, **extra) -> dict:
    env = {**os.environ, "CX_DATA_DIR": str(data_dir), **extra}
    env.pop("CX_CLICKHOUSE_URL", None)
    return env


def test_demo_delivers_one_signed_notice_per_breach_and_recovery(tmp_path):
    lines = []
    for name in ("first_response", "next_reply", "promise"):
        lines += (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Receivers(secrets={"webhook": "hook-secret", "dingtalk": "SECding"}) as rx:
        config = tmp_path / "subscribers.yaml"
        config.write_text(
            "subscribers:\n"
            f"  - {{name: ops-webhook, channel: webhook, url: '{rx.url('webhook')}', secret: '${{HOOK}}',"
            "      rules: [first_response, next_reply, promise], rate_limit_per_minute: 10000}\n"
            f"  - {{name: duty-ding, channel: dingtalk, webhook: '{rx.url('dingtalk')}', secret: '${{DING}}',"
            "      rules: [first_response], rate_limit_per_minute: 10000}\n",
            encoding="utf-8",
        )
        env = _env(tmp_path / "cx", CX_ALERTS_CONFIG=str(config), HOOK="hook-secret", DING="SECding",
                   CX_GRAFANA_URL="http://grafana.local", COLUMNS="200")  # fmt: skip
        run = subprocess.run([CX, "demo", "--input", str(feed)], env=env, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stderr[-3000:]
        refused = [r for r in rx.requests if r not in rx.accepted()]
        webhook, ding = rx.accepted("webhook"), rx.accepted("dingtalk")
    assert refused == []  # every signature was valid
    alerts = cx_sql("SELECT alert_id, status, rule FROM cx.alerts FINAL", _env(tmp_path / "cx"))
    want_hook = sorted((a, s) for a, s, r in alerts if r in ("first_response", "next_reply", "promise"))
    want_ding = sorted((a, s) for a, s, r in alerts if r == "first_response")
    assert len(want_hook) >= 10 and len(want_ding) >= 8
    got_hook = sorted((r.body["alert_id"], r.body["status"]) for r in webhook)
    assert got_hook == want_hook  # one notice each, none twice
    assert len({r.headers["X-CX-Delivery-Id"] for r in webhook}) == len(webhook)
    for r in webhook:
        body = r.body
        assert body["case_id"].startswith("CASE-") and body["waited_ms"] > 0 and body["summary"]
        assert body["deadline"] and body["detected_at"] and body["channel"] and "link" in body
    assert len(ding) == len(want_ding)
    assert all("timestamp" in r.query and "sign" in r.query for r in ding)
    # The summary counts notices by subscriber and status; the ledger agrees.
    assert "Breach notices sent 已发送通知" in run.stdout and "ops-webhook" in run.stdout and "duty-ding" in run.stdout
    ledger = cx_sql("SELECT subscriber, status, count() FROM cx.alert_deliveries FINAL GROUP BY subscriber, status", _env(tmp_path / "cx"))
    assert sorted(ledger) == sorted([["duty-ding", "delivered", str(len(want_ding))], ["ops-webhook", "delivered", str(len(want_hook))]])


def test_worker_killed_mid_delivery_never_resends_what_the_ledger_holds(broker, tmp_path):
    n = 300
    prefix = f"kill{os.getpid()}."
    settings = Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix)
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(n):
        alert = make_alert(i)
        producer.send(f"{prefix}cx.breaches", key=alert.case_id.encode(), value=alert.model_dump_json().encode())
    producer.flush()
    producer.close()
    data = tmp_path / "cx"
    with Receivers(delay=0.02) as rx:
        config = tmp_path / "subscribers.yaml"
        config.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{rx.url('webhook')}', rate_limit_per_minute: 100000}}\n")
        env = _env(data, CX_ALERTS_CONFIG=str(config), CX_KAFKA_BOOTSTRAP=broker.bootstrap, CX_TOPIC_PREFIX=prefix,
                   CX_APP_ID=f"kill-{os.getpid()}", CX_KAFKA_SESSION_TIMEOUT="6", CX_CLOCK="wall")  # fmt: skip

        def start():
            return subprocess.Popen([CX, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "a"))

        def wait_for(count, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len({r.body["alert_id"] for r in rx.accepted()}) >= count:
                    return True
                time.sleep(0.05)
            return False

        worker = start()
        assert wait_for(80, 90), (tmp_path / "worker.log").read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        time.sleep(0.5)  # a request on the wire at the kill is still being recorded by the receiver
        before = [r.body["alert_id"] for r in rx.accepted()]
        ledger = {row[0] for row in cx_sql("SELECT alert_id FROM cx.alert_deliveries WHERE status = 'delivered'", _env(data))}
        assert ledger and ledger <= set(before) and len(before) < n
        worker = start()
        try:
            assert wait_for(n, 120), (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(1.0)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        after = [r.body["alert_id"] for r in rx.accepted()][len(before):]
    assert not ledger & set(after)  # nothing the ledger held was sent again
    counts = Counter(before + after)
    duplicates = {a for a, c in counts.items() if c > 1}
    # The one unavoidable window: accepted by the endpoint, killed before the ledger row was written.
    assert duplicates <= set(before) - ledger and len(duplicates) <= 1
    print(f"kill window: {len(before)} accepted before SIGKILL, {len(ledger)} in the ledger, {len(duplicates)} sent twice")
    assert set(counts) == {make_alert(i).alert_id for i in range(n)}
    final = cx_sql("SELECT count(), uniqExact(alert_id), countIf(status = 'delivered') FROM cx.alert_deliveries FINAL", _env(data))
    assert final == [[str(n), str(n), str(n)]]


def test_a_reply_that_arrives_after_its_deadline_retracts_the_breach_live(broker, tmp_path):
    # Live: a chat case opened now, answered 1 s later, the reply's event arriving after the deadline
    # (its source lagging). The subscriber hears of the breach, then once that it was false.
    prefix = f"late{os.getpid()}."
    settings = Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix)
    ensure_topics(settings)
    policy = tmp_path / "policy.yaml"
    policy.write_text("first_response: {chat: {within: 3s}}\nlateness: 1s\n", encoding="utf-8")
    data = tmp_path / "cx"
    with Receivers() as rx:
        config = tmp_path / "subscribers.yaml"
        config.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{rx.url('webhook')}', rate_limit_per_minute: 1000}}\n")
        env = _env(data, CX_ALERTS_CONFIG=str(config), CX_KAFKA_BOOTSTRAP=broker.bootstrap, CX_TOPIC_PREFIX=prefix,
                   CX_APP_ID=f"late-{os.getpid()}", CX_KAFKA_SESSION_TIMEOUT="6", CX_SLA_POLICY=str(policy))  # fmt: skip
        worker = subprocess.Popen([CX, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "a"))
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)

        def send(kind: str, actor: str, at: datetime) -> None:
            event = {"event_id": f"L-{kind}", "case_id": "LATE-1", "customer_id": "U1", "channel": "chat", "kind": kind,
                     "actor": actor, "agent_id": "A1", "department": "客服部", "ts": at.isoformat()}  # fmt: skip
            producer.send(f"{prefix}cx.touchpoints", key=b"LATE-1", value=json.dumps(event).encode())
            producer.flush()

        def statuses() -> list[str]:
            return [r.body["status"] for r in rx.accepted("webhook")]

        try:
            time.sleep(8)  # the worker joins its group
            opened = datetime.now(UTC)
            send("contact_opened", "customer", opened)
            assert _wait(lambda: statuses() == ["breach"], 60), (tmp_path / "worker.log").read_text()[-3000:]
            send("agent_reply", "agent", opened + timedelta(seconds=1))  # in time, but it comes late
            assert _wait(lambda: statuses() == ["breach", "retracted"], 60), (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(2)
            assert statuses() == ["breach", "retracted"], "one retraction notice, never twice"
        finally:
            producer.close()
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        retraction = rx.accepted("webhook")[1].body
    assert "误报撤回" in retraction["summary"] and retraction["case_id"] == "LATE-1"
    # The views count the SLA as met: the breach is gone from them, its retraction kept with its lateness.
    alerts = cx_sql("SELECT rule, status, late_ms > 0 FROM cx.v_alerts", _env(data))
    assert alerts == [["first_response", "retracted", "1"]]
    assert cx_sql("SELECT breaches, open_breaches FROM cx.v_cases WHERE case_id = 'LATE-1'", _env(data)) == [["0", "0"]]
    assert cx_sql("SELECT status FROM cx.alerts FINAL ORDER BY status", _env(data)) == [["breach"], ["retracted"]]
    late = cx_sql("SELECT event_id, reason, applied FROM cx.v_late_events", _env(data))
    assert late == [["L-agent_reply", "behind_watermark", "true"]]


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
