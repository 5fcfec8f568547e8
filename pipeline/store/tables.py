"""ClickHouse table names (database `cx`), one constant each."""

TOUCHPOINTS = "cx.touchpoints"
REVIEWS = "cx.reviews"
DLQ = "cx.dlq"
RESPONSES = "cx.responses"
CASES = "cx.cases"
ALERTS = "cx.alerts"
ALERT_DELIVERIES = "cx.alert_deliveries"
DATA_TABLES = (TOUCHPOINTS, REVIEWS, DLQ, RESPONSES, CASES, ALERTS, ALERT_DELIVERIES)
