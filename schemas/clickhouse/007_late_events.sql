-- Time, order and lateness (docs/sla.md): a breach a late event proved false is retracted, not
-- deleted; events that arrived behind their clock or with odd times are counted per source.

ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS raised_at Nullable(DateTime64(3, 'UTC'))
    COMMENT 'Retraction only: when the false breach was raised';
ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS late_ms Nullable(UInt64)
    COMMENT 'Retraction only: how far behind the clock the event that disproved the breach arrived, in milliseconds';
ALTER TABLE cx.alerts COMMENT COLUMN status 'breach: the deadline passed; recovery: the wait is over; retracted: a late event showed the wait ended in time (the breach was false)';

ALTER TABLE cx.touchpoints ADD COLUMN IF NOT EXISTS behind_ms UInt64 DEFAULT 0
    COMMENT 'How far behind its input partition''s newest event it arrived, in milliseconds (out of order: a lagging source)';

CREATE TABLE IF NOT EXISTS cx.late_events
(
    event_id     String                          COMMENT 'The touchpoint',
    case_id      String                          COMMENT 'Its case',
    source       LowCardinality(String)          COMMENT 'The system it came from: attrs.source, else its channel',
    channel      LowCardinality(String)          COMMENT 'Its channel',
    ts           DateTime64(3, 'UTC')            COMMENT 'Its event time',
    clock_at     Nullable(DateTime64(3, 'UTC'))  COMMENT 'The clock it was judged against: its case''s clock when it arrived (late), the wall clock or its partition''s mark (odd times)',
    behind_ms    Int64                           COMMENT 'clock_at - ts in milliseconds: how late it was (negative: stamped ahead)',
    reason       LowCardinality(String)          COMMENT 'behind_watermark: late, applied and the record corrected; past_horizon: too late to change its case; ahead_of_wall_clock / far_ahead_of_partition: an odd time, kept off the watermark',
    applied      Bool                            COMMENT 'Whether it still updated its case',
    detected_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (event_id, reason)
COMMENT 'Touchpoints that arrived behind their case''s clock or with an odd time: counted, never dropped silently';

CREATE OR REPLACE VIEW cx.v_late_events
(
    event_id     String                          COMMENT 'The touchpoint',
    case_id      String                          COMMENT 'Its case',
    source       LowCardinality(String)          COMMENT 'The system it came from (attrs.source, else its channel)',
    channel      LowCardinality(String)          COMMENT 'Its channel',
    ts           DateTime64(3, 'UTC')            COMMENT 'Its event time',
    clock_at     Nullable(DateTime64(3, 'UTC'))  COMMENT 'The clock it was judged against',
    behind_ms    Int64                           COMMENT 'How late it was, in milliseconds (negative: stamped ahead)',
    reason       LowCardinality(String)          COMMENT 'behind_watermark, past_horizon, ahead_of_wall_clock or far_ahead_of_partition',
    applied      Bool                            COMMENT 'Whether it still updated its case',
    detected_at  DateTime64(3, 'UTC')            COMMENT 'When it was noticed'
)
AS SELECT event_id, case_id, source, channel, ts, clock_at, behind_ms, reason, applied, detected_at
FROM cx.late_events FINAL;

-- Per source system and hour of event time: how far behind the other events on their partition the
-- events arrived, and arrival minus event time: "the phone system's events are 15 minutes late" apart
-- from "phone SLA looks bad".
CREATE OR REPLACE VIEW cx.v_source_lateness
(
    hour        DateTime('UTC')         COMMENT 'Hour the events happened (UTC)',
    source      LowCardinality(String)  COMMENT 'The system they came from: attrs.source, else the channel',
    channel     LowCardinality(String)  COMMENT 'Their channel',
    events      UInt64                  COMMENT 'Touchpoints that arrived',
    p50_ms      Float64                 COMMENT 'Median arrival delay (arrival - event time), in milliseconds',
    p99_ms      Float64                 COMMENT '99th percentile arrival delay, in milliseconds',
    max_ms      Int64                   COMMENT 'Largest arrival delay, in milliseconds',
    behind_p50_ms Float64               COMMENT 'Median of how far behind their input partition''s newest event the events arrived, in milliseconds',
    behind_p99_ms Float64               COMMENT '99th percentile of the same: a source that lags behind the others shows here, replay or live',
    out_of_order UInt64                 COMMENT 'Events that arrived behind their input partition''s newest event'
)
AS SELECT toStartOfHour(ts) AS hour,
          if(JSONExtractString(attrs, 'source') = '', toString(channel), JSONExtractString(attrs, 'source')) AS source,
          channel, count() AS events,
          quantile(0.5)(toFloat64(dateDiff('millisecond', ts, ingested_at))) AS p50_ms,
          quantile(0.99)(toFloat64(dateDiff('millisecond', ts, ingested_at))) AS p99_ms,
          max(dateDiff('millisecond', ts, ingested_at)) AS max_ms,
          quantile(0.5)(toFloat64(behind_ms)) AS behind_p50_ms,
          quantile(0.99)(toFloat64(behind_ms)) AS behind_p99_ms,
          countIf(behind_ms > 0) AS out_of_order
FROM cx.touchpoints FINAL
GROUP BY hour, source, channel;

-- A retracted breach counts as met: its breach and recovery rows leave the view (the raw table keeps
-- them for audit); the retraction itself stays, with when the breach was raised and how late the
-- event that disproved it came.
CREATE OR REPLACE VIEW cx.v_alerts
(
    alert_id     String                          COMMENT 'The breach (a recovery or retraction shares its id)',
    case_id      String                          COMMENT 'Case',
    rule         LowCardinality(String)          COMMENT 'first_response, next_reply, resolution, handoffs, promise or follow_up',
    status       LowCardinality(String)          COMMENT 'breach: the deadline passed; recovery: the wait is over; retracted: a late event showed the wait ended in time (the breach was false and is not counted)',
    channel      LowCardinality(String)          COMMENT 'Channel of the wait',
    priority     LowCardinality(String)          COMMENT 'Case priority',
    customer_id  String                          COMMENT 'Customer',
    agent_id     String                          COMMENT 'Agent holding the case when detected',
    department   LowCardinality(String)          COMMENT 'Department holding the case when detected',
    started_at   DateTime64(3, 'UTC')            COMMENT 'When the wait began',
    deadline     DateTime64(3, 'UTC')            COMMENT 'When the SLA ran out',
    detected_at  DateTime64(3, 'UTC')            COMMENT 'When the breach (recovery, retraction) was detected',
    ended_at     Nullable(DateTime64(3, 'UTC'))  COMMENT 'Recovery, retraction: when the wait ended',
    waited_ms    UInt64                          COMMENT 'Breach: wait at detection; recovery, retraction: the whole wait, in milliseconds',
    limit_ms     Nullable(UInt64)                COMMENT 'The SLA limit, in milliseconds',
    detail       String                          COMMENT 'Explanation in words',
    raised_at    Nullable(DateTime64(3, 'UTC'))  COMMENT 'Retraction: when the false breach was raised',
    late_ms      Nullable(UInt64)                COMMENT 'Retraction: how late the event that disproved the breach arrived, in milliseconds'
)
AS SELECT alert_id, case_id, rule, status, channel, priority, customer_id, ifNull(agent_id, '') AS agent_id, ifNull(department, '') AS department,
          started_at, deadline, detected_at, ended_at, waited_ms, limit_ms, detail, raised_at, late_ms
FROM cx.alerts FINAL
WHERE status = 'retracted' OR alert_id NOT IN (SELECT alert_id FROM cx.alerts WHERE status = 'retracted');
