"""The notice runner with the real ledger (embedded ClickHouse) and real receivers."""

import asyncio
import time

from pipeline.alerts.render import Renderer
from pipeline.cases.book import StreamClock
from pipeline.delivery import Ledger, NoticeRunner, Sender
from pipeline.delivery.context import last_customer_messages
from pipeline.store.base import scalar

from .helpers import make_alert, subscribers
from harness.receivers import Receivers

SUBS = """
subscribers:
  - name: ding
    channel: dingtalk
    webhook: '{url}'
    secret: ${{DING}}
    rate_limit_per_minute: {rate}
"""


def runner_for(rx, store, rate=20):
    subs = subscribers(SUBS.format(url=rx.url("dingtalk"), rate=rate), DING="SECding")
    sender = Sender(Renderer(None), backoff=0.05, max_backoff=0.2)
    return NoticeRunner(subs, sender, Ledger(store), StreamClock("wall"), last_messages=lambda alerts: last_customer_messages(store, alerts))


async def run_until_settled(runner, alerts, timeout=20.0):
    keys = await runner.offer([(0, a) for a in alerts])
    deadline = time.monotonic() + timeout
    while not all(runner.is_settled(k) for k in keys) and time.monotonic() < deadline:
        runner.pump()
        await asyncio.sleep(0.05)
    await runner.close()
    return keys


def test_storm_of_50_breaches_is_one_digest_under_dingtalk_cap(clean_store):
    alerts = [make_alert(n) for n in range(50)]
    with Receivers(secrets={"dingtalk": "SECding"}) as rx:
        asyncio.run(run_until_settled(runner_for(rx, clean_store), alerts))
        accepted = rx.accepted("dingtalk")
        refused = [r for r in rx.requests if r not in accepted]
    assert refused == [] and 1 <= len(accepted) <= 20
    text = "\n".join(r.body["markdown"]["text"] for r in accepted)
    assert "50 个在线客服会话首次响应超时" in text
    # Every alert is accounted for in the ledger, once.
    assert scalar(clean_store, "SELECT count() FROM cx.alert_deliveries") == 50
    assert scalar(clean_store, "SELECT uniqExact(alert_id) FROM cx.alert_deliveries WHERE status = 'delivered' AND kind = 'digest'") == 50


def test_the_ledger_stops_a_second_send_after_a_restart(clean_store):
    alerts = [make_alert(n) for n in range(5)]
    with Receivers(secrets={"dingtalk": "SECding"}) as rx:
        asyncio.run(run_until_settled(runner_for(rx, clean_store, rate=100), alerts))
        assert len(rx.accepted("dingtalk")) == 5
        # A new runner (a restarted worker) is offered the same alerts again (redelivery).
        asyncio.run(run_until_settled(runner_for(rx, clean_store, rate=100), alerts + [make_alert(9)]))
        assert len(rx.accepted("dingtalk")) == 6
    _, rows = clean_store.query("SELECT kind, status, attempts, latency_ms IS NOT NULL FROM cx.alert_deliveries FINAL")
    assert len(rows) == 6 and all(r == ("breach", "delivered", 1, True) for r in rows)


def test_notices_quote_the_last_customer_message(clean_store):
    clean_store.insert("cx.touchpoints", [
        {"event_id": f"e{i}", "case_id": "C1", "customer_id": "U1", "channel": "chat", "kind": "customer_message",
         "actor": "customer", "agent_id": "", "department": "", "ts": f"2026-11-24 01:59:5{i}.000", "priority": "normal",
         "promised_by": None, "text": text, "sentiment": 0.1, "attrs": "{}", "kafka_topic": "t", "kafka_partition": 0, "kafka_offset": i}
        for i, text in enumerate(["你好", "还有人吗？我的手机号 [PHONE]"])
    ])  # fmt: skip
    with Receivers(secrets={"dingtalk": "SECding"}) as rx:
        asyncio.run(run_until_settled(runner_for(rx, clean_store), [make_alert(1)]))
        (got,) = rx.accepted("dingtalk")
    assert "客户最后留言：还有人吗？我的手机号 [PHONE]" in got.body["markdown"]["text"]
