"""What a notice quotes: the customer's last message on the case (stored PII-masked)."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.cases.rows import Alert
from pipeline.store import Store
from pipeline.store.tables import TOUCHPOINTS


def last_customer_messages(store: Store, alerts: Sequence[Alert]) -> dict[str, str]:
    """case_id -> the latest non-empty customer message text, for the cases of `alerts`."""
    cases = sorted({a.case_id for a in alerts})
    if not cases:
        return {}
    _, rows = store.query(
        f"SELECT case_id, argMax(text, ts) FROM {TOUCHPOINTS}"
        " WHERE case_id IN {cases:Array(String)} AND kind = 'customer_message' AND text != ''"
        " GROUP BY case_id",
        {"cases": cases},
    )
    return {case: text for case, text in rows}
