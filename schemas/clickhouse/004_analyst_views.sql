-- Analyst views: each event, review, response, case, alert and delivery exactly once, before
-- background merges and after redelivery (FINAL collapses rows that share the table's key), without
-- Kafka bookkeeping columns. Dashboards, reports and analysts read these, never the raw tables.

CREATE OR REPLACE VIEW cx.v_touchpoints
(
    event_id     String                         COMMENT 'Unique id of the touchpoint event',
    case_id      String                         COMMENT 'Case (ticket or conversation) the event belongs to',
    customer_id  String                         COMMENT 'Customer',
    channel      LowCardinality(String)         COMMENT 'Where it happened: phone, chat, email, app, social, store or field',
    kind         LowCardinality(String)         COMMENT 'What happened: contact_opened, customer_message, agent_reply, transfer, promise, resolved, reopened, follow_up or closed',
    actor        LowCardinality(String)         COMMENT 'Who did it: customer, agent or system',
    agent_id     String                         COMMENT 'Agent involved; empty when none',
    department   LowCardinality(String)         COMMENT 'Department involved; empty when none',
    ts           DateTime64(3, 'UTC')           COMMENT 'When it happened (UTC)',
    priority     LowCardinality(String)         COMMENT 'Case priority: high, normal or low',
    promised_by  Nullable(DateTime64(3, 'UTC')) COMMENT 'For promises: the time promised to the customer',
    text         String                         COMMENT 'Message text with personal data masked ([PHONE], [ID], ...)',
    sentiment    Nullable(Float32)              COMMENT 'Customer messages: 0 (negative) to 1 (positive); NULL for others'
)
AS SELECT event_id, case_id, customer_id, channel, kind, actor, agent_id, department, ts, priority, promised_by, text, sentiment
FROM cx.touchpoints FINAL;

CREATE OR REPLACE VIEW cx.v_reviews
(
    review_id    String                 COMMENT 'Unique id of the review',
    customer_id  String                 COMMENT 'Customer who wrote it',
    case_id      String                 COMMENT 'Case it is about; empty when not tied to a case',
    channel      LowCardinality(String) COMMENT 'Channel the review is about',
    rating       Nullable(UInt8)        COMMENT 'Stars 1-5 when given',
    ts           DateTime64(3, 'UTC')   COMMENT 'When it was written (UTC)',
    source       LowCardinality(String) COMMENT 'Where it came from (app store, survey, ...)',
    text         String                 COMMENT 'Review text, normalised, personal data masked',
    sentiment    Float32                COMMENT 'Probability the review is positive, 0..1',
    positive     Bool                   COMMENT 'sentiment >= 0.5: counts towards the satisfaction share',
    tokens       Array(String)          COMMENT 'Words (jieba segmentation)',
    keywords     Array(String)          COMMENT 'Top keywords of the text',
    aspects      Array(Tuple(aspect LowCardinality(String), polarity LowCardinality(String))) COMMENT 'Service aspects mentioned (attitude, speed, quality, price, environment, ownership, honesty), each with its polarity'
)
AS SELECT review_id, customer_id, case_id, channel, rating, ts, source, text, sentiment, label = 'positive' AS positive, tokens, keywords, aspects
FROM cx.reviews FINAL;

CREATE OR REPLACE VIEW cx.v_responses
(
    case_id           String                 COMMENT 'Case',
    kind              LowCardinality(String) COMMENT 'first: the first reply on the case; next: a reply to a later message',
    channel           LowCardinality(String) COMMENT 'Channel the customer wrote on',
    priority          LowCardinality(String) COMMENT 'Case priority when answered',
    customer_id       String                 COMMENT 'Customer who asked',
    asked_at          DateTime64(3, 'UTC')   COMMENT 'When the customer asked (UTC)',
    answered_at       DateTime64(3, 'UTC')   COMMENT 'When an agent replied (UTC)',
    wait_ms           UInt64                 COMMENT 'How long the customer waited, in milliseconds',
    business_wait_ms  UInt64                 COMMENT 'The part of the wait inside business hours, in milliseconds',
    limit_ms          Nullable(UInt64)       COMMENT 'SLA limit for this wait; NULL when the channel has none',
    within_sla        Nullable(Bool)         COMMENT 'Answered by the SLA deadline; NULL without a limit',
    agent_id          String                 COMMENT 'Agent who replied',
    department        LowCardinality(String) COMMENT 'Department of the agent who replied'
)
AS SELECT case_id, kind, channel, priority, customer_id, asked_at, answered_at, wait_ms, business_wait_ms, limit_ms,
          within_sla, ifNull(agent_id, '') AS agent_id, ifNull(department, '') AS department
FROM cx.responses FINAL;

CREATE OR REPLACE VIEW cx.v_cases
(
    case_id                 String                          COMMENT 'Case',
    customer_id             String                          COMMENT 'Customer',
    channel                 LowCardinality(String)          COMMENT 'Channel the case was opened on',
    priority                LowCardinality(String)          COMMENT 'Priority (high once escalated)',
    status                  LowCardinality(String)          COMMENT 'open, resolved or closed',
    agent_id                String                          COMMENT 'Agent now holding the case',
    department              LowCardinality(String)          COMMENT 'Department now holding the case',
    opened_at               DateTime64(3, 'UTC')            COMMENT 'When the case was opened (UTC)',
    last_event_at           DateTime64(3, 'UTC')            COMMENT 'Latest activity',
    first_response_ms       Nullable(UInt64)                COMMENT 'Wait for the first reply, in milliseconds',
    waiting_since           Nullable(DateTime64(3, 'UTC'))  COMMENT 'Oldest unanswered customer message; NULL when nobody waits',
    resolved_at             Nullable(DateTime64(3, 'UTC'))  COMMENT 'First resolution',
    resolution_ms           Nullable(UInt64)                COMMENT 'Opened to first resolution, in milliseconds',
    resolution_business_ms  Nullable(UInt64)                COMMENT 'The same in business hours',
    closed_at               Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the case was closed',
    messages                UInt32                          COMMENT 'Customer messages',
    replies                 UInt32                          COMMENT 'Agent replies',
    handoffs                UInt32                          COMMENT 'Transfers between agents or departments (passing the customer on)',
    reopens                 UInt32                          COMMENT 'Times the case was reopened',
    recontacts              UInt32                          COMMENT 'Times the customer came back after a resolution',
    promises                UInt32                          COMMENT 'Promises made to the customer',
    promises_kept           UInt32                          COMMENT 'Promises kept (resolved or followed up in time)',
    promises_broken         UInt32                          COMMENT 'Promises whose time passed first',
    follow_up_due           Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the follow-up visit or call is due',
    follow_up_done          Nullable(Bool)                  COMMENT 'Followed up in time after resolution; NULL while due or not needed',
    first_sentiment         Nullable(Float32)               COMMENT 'Mood of the first customer message, 0..1',
    last_sentiment          Nullable(Float32)               COMMENT 'Mood of the latest customer message, 0..1 (did we turn the customer around?)',
    breaches                UInt32                          COMMENT 'SLA breaches on the case',
    open_breaches           UInt32                          COMMENT 'Breaches not yet recovered'
)
AS SELECT case_id, customer_id, channel, priority, status, ifNull(owner_agent_id, '') AS agent_id, ifNull(department, '') AS department, opened_at,
          last_event_at, first_response_ms, waiting_since, resolved_at, resolution_ms, resolution_business_ms, closed_at,
          messages, replies, handoffs, reopens, recontacts, promises, promises_kept, promises_broken, follow_up_due,
          follow_up_done, first_sentiment, last_sentiment, breaches, open_breaches
FROM cx.cases FINAL;

CREATE OR REPLACE VIEW cx.v_alerts
(
    alert_id     String                          COMMENT 'The breach (a recovery shares its id)',
    case_id      String                          COMMENT 'Case',
    rule         LowCardinality(String)          COMMENT 'first_response, next_reply, resolution, handoffs, promise or follow_up',
    status       LowCardinality(String)          COMMENT 'breach: the deadline passed; recovery: the wait is over',
    channel      LowCardinality(String)          COMMENT 'Channel of the wait',
    priority     LowCardinality(String)          COMMENT 'Case priority',
    customer_id  String                          COMMENT 'Customer',
    agent_id     String                          COMMENT 'Agent holding the case when detected',
    department   LowCardinality(String)          COMMENT 'Department holding the case when detected',
    started_at   DateTime64(3, 'UTC')            COMMENT 'When the wait began',
    deadline     DateTime64(3, 'UTC')            COMMENT 'When the SLA ran out',
    detected_at  DateTime64(3, 'UTC')            COMMENT 'When the breach (or recovery) was detected',
    ended_at     Nullable(DateTime64(3, 'UTC'))  COMMENT 'Recovery: when the wait ended',
    waited_ms    UInt64                          COMMENT 'Breach: wait at detection; recovery: the whole wait, in milliseconds',
    limit_ms     Nullable(UInt64)                COMMENT 'The SLA limit, in milliseconds',
    detail       String                          COMMENT 'Explanation in words'
)
AS SELECT alert_id, case_id, rule, status, channel, priority, customer_id, ifNull(agent_id, '') AS agent_id, ifNull(department, '') AS department,
          started_at, deadline, detected_at, ended_at, waited_ms, limit_ms, detail
FROM cx.alerts FINAL;

CREATE OR REPLACE VIEW cx.v_dlq
(
    source_topic    LowCardinality(String) COMMENT 'Topic (or clickhouse:table) the rejected input came from',
    kafka_partition UInt16                 COMMENT 'Its Kafka partition',
    kafka_offset    UInt64                 COMMENT 'Its Kafka offset (replay from here)',
    reason          String                 COMMENT 'Why it was rejected',
    payload         String                 COMMENT 'The input as received, personal data masked',
    received_at     DateTime64(3, 'UTC')   COMMENT 'When it was rejected'
)
AS SELECT source_topic, kafka_partition, kafka_offset, reason, payload, received_at
FROM cx.dlq FINAL;

CREATE OR REPLACE VIEW cx.v_alert_deliveries
(
    alert_id       String                          COMMENT 'The alert the notice was about',
    notice_status  LowCardinality(String)          COMMENT 'What was told: breach, recovery or escalation',
    subscriber     LowCardinality(String)          COMMENT 'Subscriber (from the subscribers file)',
    channel        LowCardinality(String)          COMMENT 'webhook, email, wecom, dingtalk or feishu',
    kind           LowCardinality(String)          COMMENT 'One alert per message (breach, recovery, escalation) or a digest of several',
    delivery_id    String                          COMMENT 'Id of the message sent',
    case_id        String                          COMMENT 'Case',
    rule           LowCardinality(String)          COMMENT 'SLA rule',
    case_channel   LowCardinality(String)          COMMENT 'Channel of the case',
    department     LowCardinality(String)          COMMENT 'Department of the case',
    status         LowCardinality(String)          COMMENT 'delivered or failed',
    attempts       UInt16                          COMMENT 'Attempts made',
    detected_at    DateTime64(3, 'UTC')            COMMENT 'When the alert was detected',
    delivered_at   Nullable(DateTime64(3, 'UTC'))  COMMENT 'When the endpoint accepted it',
    latency_ms     Nullable(UInt64)                COMMENT 'Notifier delay: alert received to notice accepted, in milliseconds',
    error          String                          COMMENT 'Last error, if any'
)
AS SELECT alert_id, notice_status, subscriber, channel, kind, delivery_id, case_id, rule, case_channel, department,
          status, attempts, detected_at, delivered_at, latency_ms, error
FROM cx.alert_deliveries FINAL;
