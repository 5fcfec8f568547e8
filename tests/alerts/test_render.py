"""Notice texts: Chinese facts, waits in words, masked customer words, links, digests."""

from pipeline.alerts.notice import Item, Key, digest, single
from pipeline.alerts.payloads import email_message, webhook_body
from pipeline.alerts.render import Renderer, waited_words

from .helpers import make_alert, subscribers

SUB = subscribers("subscribers:\n  - {name: ops, channel: webhook, url: 'http://127.0.0.1:1/hook'}\n").subscribers[0]


def item(n, status="breach", **kw):
    alert = make_alert(n, status=status, **kw)
    return Item(Key(alert.alert_id, status, "ops"), alert, "订单还没到，电话 [PHONE]，请尽快处理！" * 4)


def test_waited_words():
    assert [waited_words(ms) for ms in (5_000, 60_000, 432_000, 7_500_000, 273_600_000)] == [
        "5 秒", "1 分", "7 分 12 秒", "2 小时 5 分", "3 天 4 小时",
    ]  # fmt: skip


def test_breach_notice_has_the_key_facts_and_a_link():
    r = Renderer("https://grafana.example/")
    rendered = r.render(single(SUB, item(1, waited_s=432)))
    text = r.markdown(rendered)
    for fact in ("首次响应超时", "案例 C1", "在线客服", "客服部", "A7", "7 分 12 秒", "时限 1 分", "2026-11-24 10:00:01", "[PHONE]"):
        assert fact in text
    assert "https://grafana.example/d/cx-latency?var-case=C1&from=" in text
    assert rendered.quote.endswith("…") and len(rendered.quote) == 61  # long messages are cut


def test_recovery_and_no_link_without_grafana():
    r = Renderer(None)
    text = r.markdown(r.render(single(SUB, item(2, status="recovery"))))
    assert text.startswith("### 已恢复：首次响应超时") and "共等待" in text and "Grafana" not in text


def test_digest_groups_by_rule_and_channel():
    r = Renderer(None)
    items = [item(n, waited_s=60 + n * 10) for n in range(37)] + [item(100, rule="next_reply", channel="app")]
    rendered = r.render(digest(SUB, items))
    assert rendered.lines[0].startswith("37 个在线客服会话首次响应超时（超过 1 分），最长 7 分")
    assert "C0、C1" in rendered.lines[0] and rendered.lines[0].endswith("等）")
    assert "1 个App会话回复超时" in rendered.lines[1]
    body = webhook_body(digest(SUB, items), rendered)
    assert body["status"] == "digest" and body["count"] == 38 and len(body["alerts"]) == 38
    assert {"alert_id", "case_id", "rule", "channel", "department", "agent_id", "waited_ms", "deadline", "detected_at", "summary"} <= set(body)


def test_email_has_plain_and_html():
    mail_sub = subscribers("subscribers:\n  - {name: m, channel: email, smtp: 'smtp://127.0.0.1:25', to: [a@b.cn]}\n").subscribers[0]
    msg = email_message(single(mail_sub, item(3)), Renderer(None))
    assert "首次响应超时" in msg["Subject"] and msg["To"] == "a@b.cn"
    kinds = [part.get_content_type() for part in msg.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert "<h3" in msg.get_body(("html",)).get_content()
