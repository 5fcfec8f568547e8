"""`cx alerts`: check a subscribers file, send a test notice to every subscriber."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings

app = typer.Typer(help="Breach notices: check the subscribers file, send test notices.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


def _load(file: Path | None):
    from pipeline.alerts import AlertsConfigError, load_subscribers

    settings = Settings.from_env()
    path = file or settings.alerts_config
    if path is None:
        console.print("[bold red]error:[/] no file given and CX_ALERTS_CONFIG is not set")
        raise typer.Exit(2)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        return settings, path, load_subscribers(path, smtp_password=password)
    except AlertsConfigError as exc:
        console.print(f"[bold red]error:[/] {path}: {exc}")
        raise typer.Exit(2) from None


def sample_alert(case_id: str = "TEST-0001"):
    """A made-up first-response breach on a chat case, for previews and test notices."""
    from pipeline.cases.rows import Alert

    now = datetime.now(UTC).replace(microsecond=0)
    return Alert(
        alert_id=f"test-{int(time.time())}", case_id=case_id, rule="first_response", status="breach",
        channel="chat", priority="normal", customer_id="U-TEST", agent_id="A-TEST", department="客服部",
        started_at=now - timedelta(seconds=75), deadline=now - timedelta(seconds=15), detected_at=now,
        ended_at=None, waited_ms=75_000, limit_ms=60_000, event_id=None, detail="test notice",
    )  # fmt: skip


def _all(values, every) -> str:
    return "all" if values is None or set(values) == set(every) else ", ".join(str(v) for v in values)


@app.command()
def check(file: Annotated[Path | None, typer.Argument(help="Subscribers file (default: CX_ALERTS_CONFIG)")] = None) -> None:
    """Validate a subscribers file and show what each subscriber will receive."""
    from pipeline.alerts.notice import Item, Key, single
    from pipeline.delivery.runner import notice_renderer
    from pipeline.events.models import Channel, Priority
    from pipeline.sla.policy import Rule

    settings, path, subscribers = _load(file)
    table = Table("subscriber", "channel", "endpoint", "rules", "case channels", "departments", "priorities",
                  "rate limit", "escalation", "recovery", title=f"{path}: {len(subscribers.subscribers)} subscribers")  # fmt: skip
    for s in subscribers.subscribers:
        rate = f"{s.per_minute}/min" + (f", {s.per_second}/s" if s.per_second else "")
        escalation = f"after {s.escalate_after:g} min -> {s.escalate_to}" if s.escalate_to else "-"
        table.add_row(s.name, s.channel, s.where, _all(s.rules, Rule), _all(s.channels, Channel),
                      _all(s.departments, []), _all(s.priorities, Priority), rate, escalation,
                      "yes" if s.recovery else "no")  # fmt: skip
    console.print(table)
    alert = sample_alert("C-EXAMPLE")
    first = subscribers.subscribers[0]
    renderer = notice_renderer(settings)
    preview = renderer.render(single(first, Item(Key(alert.alert_id, "breach", first.name), alert, "我的订单怎么还没人回复？")))
    console.print(f"\nExample breach notice ({first.name}):")
    console.print(renderer.markdown(preview))


@app.command("test")
def send_test(file: Annotated[Path | None, typer.Argument(help="Subscribers file (default: CX_ALERTS_CONFIG)")] = None) -> None:
    """Send a test notice to every subscriber and show how each delivery went."""
    from pipeline.alerts.notice import Item, Key, Notice
    from pipeline.delivery import Sender
    from pipeline.delivery.runner import notice_renderer

    settings, _, subscribers = _load(file)
    alert = sample_alert()

    async def run():
        sender = Sender(notice_renderer(settings), max_backoff=2.0)
        try:
            notices = [Notice(s, "test", (Item(Key(alert.alert_id, "breach", s.name), alert, "这是一条测试消息"),))
                       for s in subscribers.subscribers]  # fmt: skip
            return list(zip(notices, await asyncio.gather(*(sender.deliver(n) for n in notices))))
        finally:
            await sender.close()

    results = asyncio.run(run())
    table = Table("subscriber", "channel", "endpoint", "result", "attempts", "latency", "error", title="test notices")
    for notice, d in results:
        latency = f"{(d.delivered_at - d.first_try_at) * 1000:.0f} ms" if d.delivered_at else "-"
        colour = "green" if d.status == "delivered" else "red"
        table.add_row(notice.subscriber.name, notice.subscriber.channel, notice.subscriber.where,
                      f"[{colour}]{d.status}[/]", str(d.attempts), latency, d.error)  # fmt: skip
    console.print(table)
    if any(d.status != "delivered" for _, d in results):
        raise typer.Exit(1)
