"""Delivery to real receivers on loopback: each vendor's signature checked as documented,
failures injected (500, hang, refused, rate limit) -> retries, then delivery; permanent errors stop."""

import asyncio
import json

import pytest

from pipeline.alerts.notice import Item, Key, single
from pipeline.alerts.render import Renderer
from pipeline.broker.local import free_port
from pipeline.delivery import Sender

from .helpers import make_alert, subscribers
from harness.receivers import MailBox, Receivers

SECRETS = {"webhook": "hook-secret", "dingtalk": "SECding", "feishu": "feishu-secret"}
ENV = {"HOOK": "hook-secret", "DING": "SECding", "FEI": "feishu-secret", "WRONG": "not-the-secret"}


def subscriber(rx, channel, secret="", **extra):
    field = "url" if channel == "webhook" else "webhook"
    lines = [f"  - name: {channel}", f"    channel: {channel}", f"    {field}: '{rx.url(channel)}'"]
    if secret:
        lines.append(f"    secret: ${{{secret}}}")
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    return subscribers("subscribers:\n" + "\n".join(lines) + "\n", **ENV).subscribers[0]


def notice(sub, n=1):
    alert = make_alert(n)
    return single(sub, Item(Key(alert.alert_id, "breach", sub.name), alert, "等了好久"))


def deliver(sub, n=1, **kw):
    async def run():
        sender = Sender(Renderer("http://grafana.local"), backoff=0.05, max_backoff=0.2, **kw)
        try:
            return await sender.deliver(notice(sub, n))
        finally:
            await sender.close()

    return asyncio.run(run())


@pytest.fixture
def rx():
    with Receivers(secrets=SECRETS) as receivers:
        receivers.hang_seconds = 3.0
        yield receivers


@pytest.mark.parametrize("channel,secret", [("webhook", "HOOK"), ("dingtalk", "DING"), ("feishu", "FEI"), ("wecom", "")])
def test_each_vendor_accepts_a_signed_notice(rx, channel, secret):
    d = deliver(subscriber(rx, channel, secret))
    assert d.status == "delivered" and d.attempts == 1, d.error
    (got,) = rx.accepted(channel)
    assert got.headers["X-CX-Delivery-Id"] == notice(subscriber(rx, channel, secret)).delivery_id
    text = json.dumps(got.body, ensure_ascii=False)
    assert "首次响应超时" in text and "C1" in text and "等了好久" in text


def test_webhook_body_carries_the_fields(rx):
    deliver(subscriber(rx, "webhook", "HOOK"))
    body = rx.accepted("webhook")[0].body
    for name in ("alert_id", "case_id", "rule", "status", "channel", "department", "agent_id", "waited_ms", "deadline", "detected_at", "summary"):
        assert name in body
    assert body["status"] == "breach" and body["waited_ms"] == 75_000 and body["rule"] == "first_response"


@pytest.mark.parametrize("channel", ["webhook", "dingtalk", "feishu"])
def test_a_wrong_secret_is_a_permanent_error(rx, channel):
    d = deliver(subscriber(rx, channel, "WRONG"))
    assert d.status == "failed" and d.attempts == 1
    assert rx.accepted(channel) == []
    assert {"webhook": "HTTP 401", "dingtalk": "310000", "feishu": "19021"}[channel] in d.error


def test_unknown_token_is_permanent(rx):
    sub = subscriber(rx, "wecom").model_copy(update={"webhook": rx.url("wecom", token="nope")})
    d = deliver(sub)
    assert d.status == "failed" and d.attempts == 1 and "93000" in d.error


@pytest.mark.parametrize("channel", ["webhook", "dingtalk", "feishu", "wecom"])
def test_500s_then_delivered(rx, channel):
    rx.scripts[channel].steps = ["fail500", "fail500"]
    d = deliver(subscriber(rx, channel, {"webhook": "HOOK", "dingtalk": "DING", "feishu": "FEI"}.get(channel, "")))
    assert d.status == "delivered" and d.attempts == 3 and "500" in d.error
    assert len(rx.accepted(channel)) == 1


@pytest.mark.parametrize("channel", ["dingtalk", "feishu", "wecom"])
def test_vendor_rate_limit_code_is_retried(rx, channel):
    rx.scripts[channel].steps = ["ratelimit"]
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    d = deliver(subscriber(rx, channel, {"dingtalk": "DING", "feishu": "FEI"}.get(channel, "")), sleep=sleep)
    assert d.status == "delivered" and d.attempts == 2
    assert {"dingtalk": "130101", "feishu": "11232", "wecom": "45009"}[channel] in d.error
    assert slept == [0.2]  # the vendor asked for a pause: the longest we allow here


def test_a_hanging_endpoint_times_out_and_is_retried(rx):
    rx.scripts["webhook"].steps = ["hang"]
    d = deliver(subscriber(rx, "webhook", "HOOK", timeout_s=0.5))
    assert d.status == "delivered" and d.attempts == 2 and "within 0.5s" in d.error


def test_connection_refused_retries_then_gives_up():
    port = free_port()
    sub = subscribers(f"subscribers:\n  - {{name: dead, channel: webhook, url: 'http://127.0.0.1:{port}/hook', max_attempts: 3}}\n").subscribers[0]
    d = deliver(sub)
    assert d.status == "failed" and d.attempts == 3 and "cannot reach" in d.error


def test_connection_refused_until_the_endpoint_comes_up():
    with Receivers() as later:
        port = later.port
    # The port is closed now; start a receiver on it while the sender is backing off.
    sub = subscribers(f"subscribers:\n  - {{name: w, channel: webhook, url: 'http://127.0.0.1:{port}/hook'}}\n").subscribers[0]

    async def run():
        sender = Sender(Renderer(None), backoff=0.3, max_backoff=0.6)
        rx = Receivers()
        rx.port = port
        task = asyncio.create_task(sender.deliver(notice(sub)))
        await asyncio.sleep(0.5)
        with rx:
            d = await task
            await sender.close()
            return d, rx.accepted("webhook")

    d, accepted = asyncio.run(run())
    assert d.status == "delivered" and d.attempts >= 2 and len(accepted) == 1


def test_mail_plain_and_html_reach_the_smtp_server():
    with MailBox() as box:
        sub = subscribers(f"subscribers:\n  - {{name: m, channel: email, smtp: 'smtp://127.0.0.1:{box.port}', to: [lead@example.com], from: cx@example.com}}\n").subscribers[0]
        d = deliver(sub)
    assert d.status == "delivered", d.error
    (msg,) = box.messages
    assert "首次响应超时" in msg["Subject"] and msg["X-CX-Delivery-Id"] == notice(sub).delivery_id
    assert "客户已等待" in msg.get_body(("plain",)).get_content()
    assert "<h3" in msg.get_body(("html",)).get_content()


def test_mail_refused_recipient_is_permanent():
    with MailBox(refuse=True) as box:
        sub = subscribers(f"subscribers:\n  - {{name: m, channel: email, smtp: 'smtp://127.0.0.1:{box.port}', to: [gone@example.com]}}\n").subscribers[0]
        d = deliver(sub)
    assert d.status == "failed" and d.attempts == 1 and "gone@example.com" in d.error
