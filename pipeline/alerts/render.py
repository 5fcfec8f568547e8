"""Notice texts in Chinese: the key facts of a breach, recovery, escalation or digest.

One `Rendered` per notice; the channel payloads (markdown, card, mail) are cut from it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pipeline.alerts.notice import Item, Notice

RULE_WORDS = {
    "first_response": "首次响应超时",
    "next_reply": "回复超时",
    "resolution": "解决超时",
    "handoffs": "反复转接（推诿）",
    "promise": "承诺未兑现",
    "follow_up": "回访逾期",
}
CHANNEL_WORDS = {
    "phone": "电话",
    "chat": "在线客服",
    "email": "邮件",
    "app": "App",
    "social": "社交媒体",
    "store": "门店",
    "field": "上门服务",
}
PRIORITY_WORDS = {"high": "高", "normal": "普通", "low": "低"}
# The Grafana dashboard a notice links to, with its case variable (dashboards/ builds it with this uid).
CASE_DASHBOARD_UID = "cx-latency"
DIGEST_CASES_SHOWN = 10
MESSAGE_CHARS = 60


def waited_words(ms: int) -> str:
    """A wait in Chinese: '45 秒', '7 分 12 秒', '2 小时 5 分', '3 天 4 小时'."""
    seconds = max(0, ms) // 1000
    if seconds < 60:
        return f"{seconds} 秒"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} 分" + (f" {s} 秒" if s else "")
    hours, m = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时" + (f" {m} 分" if m else "")
    days, h = divmod(hours, 24)
    return f"{days} 天" + (f" {h} 小时" if h else "")


def case_link(grafana_url: str | None, case_id: str, around: datetime) -> str | None:
    """The case on the latency dashboard, two hours either side of `around`."""
    if not grafana_url:
        return None
    at = int(around.timestamp() * 1000)
    base = grafana_url.rstrip("/")
    return f"{base}/d/{CASE_DASHBOARD_UID}?var-case={quote(case_id)}&from={at - 7_200_000}&to={at + 7_200_000}"


@dataclass(frozen=True)
class Rendered:
    """A notice's words: a title, fact lines, an optional quote and link, and a one-line summary."""

    title: str
    facts: list[tuple[str, str]]
    quote: str | None
    link: str | None
    summary: str
    lines: list[str]  # digest: one line per group of alerts
    color: str  # red | green | orange | grey: breach, recovery, escalation, retraction


class Renderer:
    """Turns notices into words; times are shown in `timezone` (the people reading them are there)."""

    def __init__(self, grafana_url: str | None = None, timezone: str = "Asia/Shanghai"):
        self.grafana_url = grafana_url
        self.zone = ZoneInfo(timezone)

    def _time(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def render(self, notice: Notice) -> Rendered:
        """The words of `notice`."""
        if notice.kind == "digest":
            return self._digest(notice)
        return self._single(notice.items[0], notice.kind)

    def _single(self, item: Item, kind: str) -> Rendered:
        a = item.alert
        rule = RULE_WORDS.get(a.rule, a.rule)
        where = CHANNEL_WORDS.get(a.channel, a.channel)
        facts = [
            ("案例", a.case_id),
            ("渠道", where),
            ("部门", a.department or "未分配"),
            ("坐席", a.agent_id or "未分配"),
            ("优先级", PRIORITY_WORDS.get(a.priority, a.priority)),
        ]
        limit = f"（时限 {waited_words(a.limit_ms)}）" if a.limit_ms else ""
        if kind == "retracted":
            # 误报撤回: the breach was raised before a late event showed the wait ended in time.
            title = f"误报撤回：{rule} · 案例 {a.case_id}"
            facts.append(("实际回复时间", self._time(a.ended_at or a.detected_at)))
            facts.append(("实际等待", waited_words(a.waited_ms) + limit))
            if a.late_ms:
                facts.append(("消息晚到", waited_words(a.late_ms)))
            if a.raised_at:
                facts.append(("误报发出于", self._time(a.raised_at)))
            summary = (
                f"误报撤回：案例 {a.case_id}（{where}）{rule}未超时，实际等待 {waited_words(a.waited_ms)}"
                + (f"；回复消息晚到 {waited_words(a.late_ms)}" if a.late_ms else "")
            )
            color = "grey"
        elif kind == "recovery":
            title = f"已恢复：{rule} · 案例 {a.case_id}"
            facts.append(("共等待", waited_words(a.waited_ms) + limit))
            facts.append(("结束于", self._time(a.ended_at or a.detected_at)))
            summary = f"已恢复：案例 {a.case_id}（{where}）{rule}，客户共等待 {waited_words(a.waited_ms)}"
            color = "green"
        else:
            waited = a.waited_ms
            if kind == "escalation":
                title = f"升级：{rule}仍未处理 · 案例 {a.case_id}"
                color = "orange"
            elif kind == "test":
                title = f"测试通知（请忽略）：{rule} · 案例 {a.case_id}"
                color = "orange"
            else:
                title = f"{rule} · 案例 {a.case_id}"
                color = "red"
            facts.append(("客户已等待", waited_words(waited) + limit))
            facts.append(("截止时间", self._time(a.deadline)))
            facts.append(("发现时间", self._time(a.detected_at)))
            prefix = "升级：" if kind == "escalation" else ""
            summary = (
                f"{prefix}{rule}：案例 {a.case_id}（{where} · {a.department or '未分配'} · 坐席 {a.agent_id or '未分配'}），"
                f"客户已等待 {waited_words(waited)}{limit}"
            )
        quote_text = None
        if item.last_message:
            text = item.last_message.strip()
            quote_text = text[:MESSAGE_CHARS] + ("…" if len(text) > MESSAGE_CHARS else "")
        return Rendered(
            title=title,
            facts=facts,
            quote=quote_text,
            link=case_link(self.grafana_url, a.case_id, a.deadline),
            summary=summary,
            lines=[],
            color=color,
        )

    def _digest(self, notice: Notice) -> Rendered:
        groups: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
        for item in notice.items:
            groups[(item.key.status, item.alert.rule, item.alert.channel)].append(item)
        lines = []
        for (status, rule, channel), items in sorted(groups.items(), key=lambda g: -len(g[1])):
            longest = max(i.alert.waited_ms for i in items)
            cases = sorted({i.alert.case_id for i in items})
            shown = "、".join(cases[:DIGEST_CASES_SHOWN]) + (" 等" if len(cases) > DIGEST_CASES_SHOWN else "")
            words = RULE_WORDS.get(rule, rule)
            where = CHANNEL_WORDS.get(channel, channel)
            if status == "recovery":
                lines.append(f"{len(items)} 个{where}会话{words}已恢复，最长等待 {waited_words(longest)}（{shown}）")
            elif status == "retracted":
                lines.append(f"误报撤回：{len(items)} 个{where}会话{words}实际未超时（{shown}）")
            else:
                limit_ms = items[0].alert.limit_ms
                limit = f"超过 {waited_words(limit_ms)}" if limit_ms else words
                head = "升级：" if status == "escalation" else ""
                lines.append(f"{head}{len(items)} 个{where}会话{words}（{limit}），最长 {waited_words(longest)}（{shown}）")
        breaches = sum(1 for i in notice.items if i.key.status in ("breach", "escalation"))
        retracted = sum(1 for i in notice.items if i.key.status == "retracted")
        recovered = len(notice.items) - breaches - retracted
        title = f"超时汇总：{len(notice.items)} 条（{breaches} 条告警，{recovered} 条恢复" + (
            f"，{retracted} 条误报撤回）" if retracted else "）"
        )
        first = min(notice.items, key=lambda i: i.alert.deadline).alert
        return Rendered(
            title=title,
            facts=[],
            quote=None,
            link=case_link(self.grafana_url, "", first.deadline),
            summary=f"{title}：" + "；".join(lines),
            lines=lines,
            color="red" if breaches else "green",
        )

    def markdown(self, r: Rendered) -> str:
        """WeCom / DingTalk markdown."""
        parts = [f"### {r.title}"]
        parts += [f"- {k}：{v}" for k, v in r.facts]
        parts += [f"- {line}" for line in r.lines]
        if r.quote:
            parts.append(f"> 客户最后留言：{r.quote}")
        if r.link:
            parts.append(f"[在 Grafana 中查看]({r.link})")
        return "\n".join(parts)

    def plain(self, r: Rendered) -> str:
        """E-mail plain text."""
        parts = [r.title, ""]
        parts += [f"{k}：{v}" for k, v in r.facts]
        parts += r.lines
        if r.quote:
            parts += ["", f"客户最后留言：{r.quote}"]
        if r.link:
            parts += ["", f"在 Grafana 中查看：{r.link}"]
        return "\n".join(parts) + "\n"

    def html(self, r: Rendered) -> str:
        """E-mail HTML (inline styles only: mail clients drop style sheets)."""
        color = {"red": "#c62828", "green": "#2e7d32", "orange": "#ef6c00", "grey": "#546e7a"}[r.color]
        rows = "".join(
            f"<tr><td style='padding:2px 12px 2px 0;color:#555'>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in r.facts
        )
        items = "".join(f"<li>{escape(line)}</li>" for line in r.lines)
        body = [f"<h3 style='color:{color};margin:0 0 8px'>{escape(r.title)}</h3>"]
        if rows:
            body.append(f"<table style='border-collapse:collapse'>{rows}</table>")
        if items:
            body.append(f"<ul>{items}</ul>")
        if r.quote:
            body.append(f"<blockquote style='border-left:3px solid #ccc;margin:8px 0;padding-left:8px'>客户最后留言：{escape(r.quote)}</blockquote>")
        if r.link:
            body.append(f"<p><a href='{escape(r.link)}'>在 Grafana 中查看</a></p>")
        return "<html><body style='font-family:sans-serif'>" + "".join(body) + "</body></html>"
