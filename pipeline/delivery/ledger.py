"""The delivery ledger in ClickHouse (`cx.alert_deliveries`): what was sent, to whom, and how it went."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from pipeline.alerts.notice import Key, Notice
from pipeline.cases.rows import Alert
from pipeline.delivery.send import Delivery
from pipeline.store import Store
from pipeline.store.tables import ALERT_DELIVERIES, ALERTS


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Ledger:
    """Reads settled keys and records deliveries; a key with a row (delivered or failed) is done."""

    def __init__(self, store: Store):
        self.store = store

    def settled(self, alert_ids: Collection[str]) -> set[Key]:
        """The keys of these alerts that already have a delivery row."""
        if not alert_ids:
            return set()
        _, rows = self.store.query(
            f"SELECT DISTINCT alert_id, notice_status, subscriber FROM {ALERT_DELIVERIES}"
            " WHERE alert_id IN {ids:Array(String)}",
            {"ids": sorted(alert_ids)},
        )
        return {Key(a, s, n) for a, s, n in rows}

    def record_alerts(self, alerts: list[Alert]) -> None:
        """The alerts' rows, as the case agent writes them (the same keys: written twice, kept once)."""
        if alerts:
            self.store.insert(ALERTS, [a.row() for a in alerts])

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Write delivery rows (one per alert of the notice)."""
        self.store.insert(ALERT_DELIVERIES, rows)


def delivery_rows(notice: Notice, delivery: Delivery) -> list[dict[str, Any]]:
    """The `cx.alert_deliveries` rows for a notice: one per alert it carried."""
    rows = []
    for item in notice.items:
        a, key = item.alert, item.key
        taken = item.received_at or delivery.first_try_at
        rows.append(
            {
                "alert_id": key.alert_id,
                "notice_status": key.status,
                "subscriber": key.subscriber,
                "channel": notice.subscriber.channel,
                "kind": notice.kind,
                "delivery_id": notice.delivery_id,
                "case_id": a.case_id,
                "rule": str(a.rule),
                "case_channel": str(a.channel),
                "department": a.department or "",
                "status": delivery.status,
                "attempts": delivery.attempts,
                "detected_at": a.detected_at,
                "received_at": _at(taken),
                "first_try_at": _at(delivery.first_try_at),
                "delivered_at": _at(delivery.delivered_at) if delivery.delivered_at else None,
                "latency_ms": max(0, round((delivery.delivered_at - taken) * 1000)) if delivery.delivered_at else None,
                "error": delivery.error[:1000],
            }
        )
    return rows
