"""Alerts and subscriber files for the notice tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.alerts import parse_subscribers
from pipeline.cases.rows import Alert, alert_id

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def make_alert(n: int, status: str = "breach", rule: str = "first_response", channel: str = "chat",
               department: str = "客服部", priority: str = "normal", detected: datetime | None = None,
               waited_s: int = 75) -> Alert:  # fmt: skip
    """Alert number `n` (its case C<n>): a breach, or the recovery of that same breach."""
    deadline = T0 + timedelta(seconds=n)
    detected = detected or deadline
    return Alert(
        alert_id=alert_id(f"C{n}", rule, deadline), case_id=f"C{n}", rule=rule, status=status, channel=channel,
        priority=priority, customer_id=f"U{n}", agent_id="A7", department=department,
        started_at=deadline - timedelta(seconds=60), deadline=deadline, detected_at=detected,
        ended_at=detected if status == "recovery" else None, waited_ms=waited_s * 1000, limit_ms=60_000,
        event_id=None, detail="",
    )  # fmt: skip


def subscribers(yaml_text: str, **env: str):
    """Parse a subscribers file with the given environment."""
    return parse_subscribers(yaml_text, env=env)
