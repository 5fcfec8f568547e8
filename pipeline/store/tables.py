"""ClickHouse table names (database `cx`), one constant each."""

TOUCHPOINTS = "cx.touchpoints"
REVIEWS = "cx.reviews"
DLQ = "cx.dlq"
RESPONSES = "cx.responses"
CASES = "cx.cases"
ALERTS = "cx.alerts"
ALERT_DELIVERIES = "cx.alert_deliveries"
EVENT_IDS = "cx.event_ids"
LATE_EVENTS = "cx.late_events"
DATA_TABLES = (TOUCHPOINTS, REVIEWS, DLQ, RESPONSES, CASES, ALERTS, ALERT_DELIVERIES, EVENT_IDS, LATE_EVENTS)

# Rollups (migration 005): tables the dashboards read, each rebuilt by a refreshable materialized view.
ROLLUPS_1M = ("cx.rollup_touchpoints_1m", "cx.rollup_reviews_1m", "cx.rollup_responses_1m", "cx.rollup_alerts_1m", "cx.rollup_cases_1m")
ROLLUPS_1H = ("cx.rollup_touchpoints_1h", "cx.rollup_reviews_1h", "cx.rollup_responses_1h", "cx.rollup_alerts_1h", "cx.rollup_cases_1h")
ROLLUP_TERMS = "cx.rollup_review_terms_1h"
ROLLUPS = (*ROLLUPS_1M, ROLLUP_TERMS, *ROLLUPS_1H)
# Minute views first: each hour view rebuilds from its minute table.
ROLLUP_REFRESHES = tuple(f"{t}_refresh" for t in ROLLUPS)

# Raw text kept for CX_TEXT_RETENTION_DAYS: (table, column, the row's time column).
RAW_TEXT_COLUMNS = (
    (TOUCHPOINTS, "text", "ts"),
    (REVIEWS, "text", "ts"),
    (REVIEWS, "tokens", "ts"),
    (DLQ, "payload", "received_at"),
)
