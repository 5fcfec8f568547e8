-- Case latency and SLA: one row per answered customer message, the latest state of each case,
-- and breach/recovery alerts. Written by the case-tracking agent (pipeline/cases).
-- Every table is a ReplacingMergeTree keyed so that re-inserting the same row (at-least-once
-- delivery, a worker restart, a replay) does not double count: query with FINAL or argMax.

CREATE TABLE IF NOT EXISTS cx.responses
(
    case_id            String                          COMMENT 'Case the message belongs to',
    kind               LowCardinality(String)          COMMENT 'first: the customer''s first message on the case; next: any later message',
    channel            LowCardinality(String)          COMMENT 'Channel the customer wrote on (phone, chat, email, app, social, store, field)',
    priority           LowCardinality(String)          COMMENT 'Case priority when answered (high, normal, low)',
    customer_id        String                          COMMENT 'Customer who asked',
    asked_at           DateTime64(3, 'UTC')            COMMENT 'Event time of the customer message',
    answered_at        DateTime64(3, 'UTC')            COMMENT 'Event time of the next agent reply',
    wait_ms            UInt64                          COMMENT 'Calendar wait: answered_at - asked_at, in milliseconds',
    business_wait_ms   UInt64                          COMMENT 'Part of the wait inside business hours (policy calendar, holidays excluded), in milliseconds',
    limit_ms           Nullable(UInt64)                COMMENT 'SLA limit for this wait (first_response or next_reply by channel); NULL when the channel has none',
    within_sla         Nullable(Bool)                  COMMENT 'Answered by the SLA deadline for this message (business-hours deadline where the policy says so); NULL without a limit',
    asked_event_id     String                          COMMENT 'event_id of the customer message',
    answered_event_id  String                          COMMENT 'event_id of the agent reply',
    agent_id           Nullable(String)                COMMENT 'Agent who replied',
    department         Nullable(String)                COMMENT 'Department of the agent who replied',
    version            UInt64                          COMMENT 'Case revision that produced the row; the highest wins when a late event corrects it'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(asked_at)
ORDER BY (case_id, asked_at, asked_event_id)
COMMENT 'One row per customer message answered by an agent, with its wait (first response and next replies)';

CREATE TABLE IF NOT EXISTS cx.cases
(
    case_id                 String                          COMMENT 'Case id',
    customer_id             String                          COMMENT 'Customer of the case',
    channel                 LowCardinality(String)          COMMENT 'Channel the case was opened on',
    priority                LowCardinality(String)          COMMENT 'Opening priority, or high once escalated',
    status                  LowCardinality(String)          COMMENT 'open, resolved or closed (a reopened case is open)',
    owner_agent_id          Nullable(String)                COMMENT 'Agent now holding the case (latest agent event or transfer target)',
    department              Nullable(String)                COMMENT 'Department now holding the case',
    opened_at               DateTime64(3, 'UTC')            COMMENT 'contact_opened time (first event time if none)',
    last_event_at           DateTime64(3, 'UTC')            COMMENT 'Latest event time on the case',
    first_message_at        Nullable(DateTime64(3, 'UTC'))  COMMENT 'Customer''s first message (or the contact they opened)',
    first_response_at       Nullable(DateTime64(3, 'UTC'))  COMMENT 'Agent reply answering the first message',
    first_response_ms       Nullable(UInt64)                COMMENT 'first_response_at - first_message_at, in milliseconds',
    waiting_since           Nullable(DateTime64(3, 'UTC'))  COMMENT 'Oldest unanswered customer message; NULL when nobody is waiting',
    resolved_at             Nullable(DateTime64(3, 'UTC'))  COMMENT 'First resolution',
    resolution_ms           Nullable(UInt64)                COMMENT 'resolved_at - opened_at, calendar milliseconds',
    resolution_business_ms  Nullable(UInt64)                COMMENT 'resolved_at - opened_at, business-hours milliseconds',
    last_resolved_at        Nullable(DateTime64(3, 'UTC'))  COMMENT 'Latest resolution (differs from resolved_at after a reopen)',
    closed_at               Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the case was closed',
    messages                UInt32                          COMMENT 'Customer messages (and customer-opened contacts)',
    replies                 UInt32                          COMMENT 'Agent replies',
    handoffs                UInt32                          COMMENT 'Transfers between agents or departments',
    reopens                 UInt32                          COMMENT 'Times the case was reopened',
    recontacts              UInt32                          COMMENT 'Times the customer came back after a resolution',
    promises                UInt32                          COMMENT 'Promises made to the customer',
    promises_kept           UInt32                          COMMENT 'Promises met by a resolution or follow-up by promised_by',
    promises_broken         UInt32                          COMMENT 'Promises whose promised_by passed first (as of last_event_at)',
    promise_due             Nullable(DateTime64(3, 'UTC'))  COMMENT 'Earliest promise still open',
    follow_up_due           Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the follow-up after the latest resolution is due',
    follow_up_at            Nullable(DateTime64(3, 'UTC'))  COMMENT 'First follow-up',
    follow_up_done          Nullable(Bool)                  COMMENT 'Followed up in time after the latest resolution; NULL while due or not applicable',
    first_sentiment         Nullable(Float32)               COMMENT 'Sentiment (0 negative .. 1 positive) of the first scored customer message',
    last_sentiment          Nullable(Float32)               COMMENT 'Sentiment of the latest scored customer message',
    next_deadline           Nullable(DateTime64(3, 'UTC'))  COMMENT 'Earliest SLA deadline still running and not yet breached',
    next_deadline_rule      LowCardinality(Nullable(String)) COMMENT 'Rule of next_deadline',
    breaches                UInt32                          COMMENT 'SLA breaches raised on the case',
    open_breaches           UInt32                          COMMENT 'Breaches not yet recovered',
    events                  UInt32                          COMMENT 'Touchpoints seen on the case',
    version                 UInt64                          COMMENT 'Case revision; the highest is the latest state'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY case_id
COMMENT 'Latest state and measures of each case (query with FINAL)';

CREATE TABLE IF NOT EXISTS cx.alerts
(
    alert_id     String                          COMMENT 'Deterministic id from (case, rule, deadline): the same breach always has the same id',
    case_id      String                          COMMENT 'Case in breach',
    rule         LowCardinality(String)          COMMENT 'first_response, next_reply, resolution, handoffs, promise or follow_up',
    status       LowCardinality(String)          COMMENT 'breach: the deadline passed; recovery: the wait is over (late reply, resolution, follow-up)',
    channel      LowCardinality(String)          COMMENT 'Channel of the wait (the customer message, or the event that started it)',
    priority     LowCardinality(String)          COMMENT 'Case priority',
    customer_id  String                          COMMENT 'Customer of the case',
    agent_id     Nullable(String)                COMMENT 'Agent holding the case when detected',
    department   Nullable(String)                COMMENT 'Department holding the case when detected',
    started_at   DateTime64(3, 'UTC')            COMMENT 'When the wait began (message, opening, promise, resolution)',
    deadline     DateTime64(3, 'UTC')            COMMENT 'When the SLA ran out (for handoffs: the offending transfer)',
    detected_at  DateTime64(3, 'UTC')            COMMENT 'Clock time of detection: watermark on replay, wall clock live, event time for late events',
    ended_at     Nullable(DateTime64(3, 'UTC'))  COMMENT 'Recovery only: when the wait ended',
    waited_ms    UInt64                          COMMENT 'Breach: wait so far at detection; recovery: the whole wait, in milliseconds',
    limit_ms     Nullable(UInt64)                COMMENT 'The SLA limit, in milliseconds (NULL for handoffs)',
    event_id     Nullable(String)                COMMENT 'Event that ended the wait or triggered the alert',
    detail       String                          COMMENT 'Human-readable explanation, for notices'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(deadline)
ORDER BY (alert_id, status)
COMMENT 'SLA breaches and their recoveries, each exactly once per (alert_id, status)';
