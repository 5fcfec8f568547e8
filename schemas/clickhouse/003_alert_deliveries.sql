-- Breach notices: one row per alert, per subscriber and per thing told (breach, recovery, escalation).
-- It is both the delivery log analysts query and the notifier's ledger: a key (alert_id,
-- notice_status, subscriber) that has a row is never sent again, after a restart, rebalance or replay.

CREATE TABLE IF NOT EXISTS cx.alert_deliveries
(
    alert_id       String                          COMMENT 'The alert (cx.alerts.alert_id) the notice was about',
    notice_status  LowCardinality(String)          COMMENT 'What the subscriber was told: breach, recovery or escalation',
    subscriber     LowCardinality(String)          COMMENT 'Subscriber name from the subscribers file (CX_ALERTS_CONFIG)',
    channel        LowCardinality(String)          COMMENT 'How it was sent: webhook, email, wecom, dingtalk or feishu',
    kind           LowCardinality(String)          COMMENT 'breach, recovery, escalation (one alert per message) or digest (several alerts in one message)',
    delivery_id    String                          COMMENT 'Id of the message sent (X-CX-Delivery-Id header); the alerts of one digest share it',
    case_id        String                          COMMENT 'Case of the alert',
    rule           LowCardinality(String)          COMMENT 'SLA rule of the alert',
    case_channel   LowCardinality(String)          COMMENT 'Channel of the case (phone, chat, ...)',
    department     String                          COMMENT 'Department holding the case when the alert was raised',
    status         LowCardinality(String)          COMMENT 'delivered: the endpoint accepted it; failed: given up (permanent error or attempts used up)',
    attempts       UInt16                          COMMENT 'Delivery attempts made',
    detected_at    DateTime64(3, 'UTC')            COMMENT 'When the alert was detected (cx.alerts.detected_at)',
    received_at    DateTime64(3, 'UTC')            COMMENT 'When the notifier took the alert off the cx.breaches topic',
    first_try_at   DateTime64(3, 'UTC')            COMMENT 'First delivery attempt',
    delivered_at   Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the endpoint accepted it; NULL when failed',
    latency_ms     Nullable(UInt64)                COMMENT 'received_at -> delivered_at in milliseconds: the notifier''s own delay (rate limits, digests, retries)',
    error          String                          COMMENT 'Last error (empty when delivered at the first attempt)'
)
ENGINE = ReplacingMergeTree(first_try_at)
PARTITION BY toYYYYMM(detected_at)
ORDER BY (alert_id, notice_status, subscriber)
COMMENT 'Breach notices sent to subscribers: the delivery log and the ledger that keeps every notice to once';
