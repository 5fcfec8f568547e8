"""Rows for every data table exactly as the stream builds them (landing, case replay, notice ledger)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.alerts.notice import Item, Key, digest
from pipeline.cases.rows import Alert
from pipeline.delivery.ledger import delivery_rows
from pipeline.delivery.send import Delivery
from pipeline.generate import generate
from pipeline.cases.feed import read_case_event
from pipeline.landing import Message, land_reviews, land_touchpoints
from pipeline.sla import load_policy
from pipeline.store.tables import ALERT_DELIVERIES, ALERTS, CASES, RESPONSES

from tests.alerts.helpers import subscribers
from tests.cases.helpers import alerts_of, replay


def stream_rows(events: int = 1500, seed: int = 5, malformed: int = 10) -> dict[str, list[dict]]:
    """Table -> rows for a generated workload (with malformed lines, so the DLQ has rows too)."""
    workload = generate(events, seed=seed, malformed=malformed)
    touch = [Message(ln.encode(), "cx.touchpoints", 0, i) for i, ln in enumerate(workload.lines) if '"review_id"' not in ln]
    reviews = [Message(ln.encode(), "cx.reviews", 0, i) for i, ln in enumerate(workload.lines) if '"review_id"' in ln]
    landed = [land_touchpoints(touch), land_reviews(reviews)]
    rows: dict[str, list[dict]] = {}
    for landing in landed:
        for table, batch in landing.rows.items():
            rows.setdefault(table, []).extend(batch)
    # What the landing forwarded to the case agent, in its order, with its sentiments.
    forwarded = [read_case_event(value) for _, value in landed[0].case_feed]
    outcomes = replay(forwarded, load_policy(), until=datetime(2026, 11, 20, tzinfo=UTC))
    alerts = alerts_of(outcomes)
    rows[RESPONSES] = [r.row() for o in outcomes for r in o.responses]
    rows[ALERTS] = [a.row() for a in alerts]
    rows[CASES] = [case for o in outcomes for case in o.cases.values()]
    rows[ALERT_DELIVERIES] = _deliveries(alerts[:40])
    assert all(rows.get(t) for t in ("cx.touchpoints", "cx.reviews", "cx.dlq", RESPONSES, ALERTS, CASES, ALERT_DELIVERIES))
    return rows


def _deliveries(alerts: list[Alert]) -> list[dict]:
    """Ledger rows for a delivered digest and a failed one (NULL delivery time)."""
    (subscriber,) = subscribers("subscribers:\n  - {name: ops, channel: webhook, url: 'http://127.0.0.1:9/h'}\n").subscribers
    items = [Item(Key(a.alert_id, a.status, "ops"), a, received_at=1_763_600_000.0 + i) for i, a in enumerate(alerts)]
    half = len(items) // 2
    delivered = Delivery("delivered", 2, 1_763_600_100.0, 1_763_600_101.5, "")
    failed = Delivery("failed", 3, 1_763_600_100.0, None, "HTTP 500 from 127.0.0.1")
    return delivery_rows(digest(subscriber, items[:half]), delivered) + delivery_rows(digest(subscriber, items[half:]), failed)
