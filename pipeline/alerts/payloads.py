"""Each channel's request for a notice, and how to read each vendor's answer. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from pipeline.alerts.notice import Item, Notice
from pipeline.alerts.render import Rendered, Renderer
from pipeline.alerts.signing import dingtalk_sign, feishu_sign, webhook_signature

# WeCom refuses markdown over 4,096 bytes; DingTalk and Feishu allow more, but a notice is a glance.
MAX_MARKDOWN_BYTES = 4000
# Vendors' "too many requests" answers (HTTP 200 with an error code): retry later, never give up on them.
RATE_LIMIT_CODES = {"dingtalk": {130101}, "wecom": {45009}, "feishu": {11232, 9499}}


@dataclass(frozen=True)
class HttpRequest:
    """A POST to send: URL (may carry a token: never log it), headers, JSON body."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Verdict:
    """How a delivery attempt went: accepted, or an error worth retrying or not."""

    ok: bool
    retry: bool = False
    error: str | None = None
    retry_after: float | None = None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def alert_fields(item: Item) -> dict[str, Any]:
    """The facts of one alert in the webhook body."""
    a = item.alert
    return {
        "alert_id": a.alert_id,
        "case_id": a.case_id,
        "rule": str(a.rule),
        "status": item.key.status,
        "channel": str(a.channel),
        "priority": str(a.priority),
        "department": a.department,
        "agent_id": a.agent_id,
        "customer_id": a.customer_id,
        "waited_ms": a.waited_ms,
        "limit_ms": a.limit_ms,
        "started_at": _iso(a.started_at),
        "deadline": _iso(a.deadline),
        "detected_at": _iso(a.detected_at),
        "ended_at": _iso(a.ended_at),
        "last_message": item.last_message,
    }


def webhook_body(notice: Notice, rendered: Rendered) -> dict[str, Any]:
    """Generic webhook JSON: the alert's fields (a digest: `alerts`, one entry each) and a summary."""
    base = {"delivery_id": notice.delivery_id, "subscriber": notice.subscriber.name, "link": rendered.link}
    if notice.kind == "digest":
        empty = dict.fromkeys(alert_fields(notice.items[0]), None)
        return {**empty, **base, "status": "digest", "summary": rendered.summary, "count": len(notice.items),
                "alerts": [alert_fields(i) for i in notice.items]}  # fmt: skip
    return {**alert_fields(notice.items[0]), **base, "status": notice.kind, "summary": rendered.summary}


def _fit(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= MAX_MARKDOWN_BYTES:
        return text
    return data[: MAX_MARKDOWN_BYTES - 8].decode("utf-8", errors="ignore") + "\n…"


def feishu_card(rendered: Rendered) -> dict[str, Any]:
    """A Feishu interactive card: coloured header, the facts, the customer's words, a button."""
    lines = [f"**{k}**：{v}" for k, v in rendered.facts] + [f"- {line}" for line in rendered.lines]
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": _fit("\n".join(lines))}}]
    if rendered.quote:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": f"客户最后留言：{rendered.quote}"}]})
    if rendered.link:
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": "在 Grafana 中查看"}, "url": rendered.link, "type": "primary"}
        ]})  # fmt: skip
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": rendered.title}, "template": rendered.color},
        "elements": elements,
    }


def http_request(notice: Notice, renderer: Renderer, now: float) -> HttpRequest:
    """The POST for a webhook, WeCom, DingTalk or Feishu subscriber, signed at `now` (unix seconds)."""
    sub = notice.subscriber
    rendered = renderer.render(notice)
    headers = {"Content-Type": "application/json; charset=utf-8", "X-CX-Delivery-Id": notice.delivery_id}
    url = sub.endpoint
    secret = sub.secret.get_secret_value() if sub.secret else None
    if sub.channel == "webhook":
        body = _json(webhook_body(notice, rendered))
        if secret:
            ts = int(now)
            headers["X-CX-Timestamp"] = str(ts)
            headers["X-CX-Signature"] = webhook_signature(secret, ts, body)
        return HttpRequest(url, headers, body)
    if sub.channel == "wecom":
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": _fit(renderer.markdown(rendered))}}
    elif sub.channel == "dingtalk":
        payload = {"msgtype": "markdown", "markdown": {"title": rendered.title, "text": _fit(renderer.markdown(rendered))}}
        if secret:
            ts_ms = int(now * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts_ms}&sign={dingtalk_sign(secret, ts_ms)}"
    elif sub.channel == "feishu":
        payload = {"msg_type": "interactive", "card": feishu_card(rendered)}
        if secret:
            ts = int(now)
            payload = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **payload}
    else:
        raise ValueError(f"{sub.channel} is not an HTTP channel")
    return HttpRequest(url, headers, _json(payload))


def email_message(notice: Notice, renderer: Renderer) -> EmailMessage:
    """A plain + HTML mail for an e-mail subscriber."""
    sub = notice.subscriber
    rendered = renderer.render(notice)
    msg = EmailMessage()
    msg["Subject"] = f"[CX] {rendered.title}"
    msg["From"] = sub.sender
    msg["To"] = ", ".join(sub.to)
    msg["Message-ID"] = f"<{notice.delivery_id}@cx-stream>"
    msg["X-CX-Delivery-Id"] = notice.delivery_id
    msg.set_content(renderer.plain(rendered))
    msg.add_alternative(renderer.html(rendered), subtype="html")
    return msg


def read_answer(channel: str, status: int, body: bytes, retry_after: str | None = None) -> Verdict:
    """Judge an HTTP answer: 2xx with the vendor's success code is delivered; 5xx, 429 and the
    vendor's rate-limit codes are worth retrying; anything else (bad signature, unknown token, 4xx) is not."""
    wait = _seconds(retry_after)
    if status == 429 or status >= 500:
        return Verdict(False, retry=True, error=f"HTTP {status}", retry_after=wait)
    if status >= 300:
        return Verdict(False, retry=False, error=f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    if channel == "webhook":
        return Verdict(True)
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return Verdict(False, retry=False, error=f"{channel} answered with something that is not JSON")
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0))) if isinstance(answer, dict) else 0
    if code in (0, None):
        return Verdict(True)
    message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
    if code in RATE_LIMIT_CODES.get(channel, ()):
        # DingTalk blocks a robot for 10 minutes after its cap; the others free up within the minute.
        return Verdict(False, retry=True, error=f"{channel} rate limit {code}: {message}", retry_after=wait or 60.0)
    return Verdict(False, retry=False, error=f"{channel} error {code}: {message}")


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
