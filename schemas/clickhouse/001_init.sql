-- Walking skeleton: raw touchpoints, scored reviews and the dead-letter table.
-- Every table is a ReplacingMergeTree keyed by the event's identity, so a redelivered Kafka message
-- (at-least-once processing) does not count twice; query with FINAL for exact counts before merges.

CREATE TABLE IF NOT EXISTS cx.touchpoints
(
    event_id     String COMMENT 'Unique id of the touchpoint event',
    case_id      String COMMENT 'Case (ticket/conversation) the event belongs to',
    customer_id  String,
    channel      LowCardinality(String) COMMENT 'phone|chat|email|app|social|store|field',
    kind         LowCardinality(String) COMMENT 'contact_opened|customer_message|agent_reply|transfer|promise|resolved|reopened|follow_up|closed',
    actor        LowCardinality(String) COMMENT 'customer|agent|system',
    agent_id     String COMMENT 'Empty when no agent is involved',
    department   LowCardinality(String),
    ts           DateTime64(3, 'UTC') COMMENT 'Event time (UTC)',
    priority     LowCardinality(String) COMMENT 'high|normal|low',
    promised_by  Nullable(DateTime64(3, 'UTC')) COMMENT 'Deadline promised to the customer (promise events)',
    text         String COMMENT 'Message text, PII masked',
    sentiment    Nullable(Float32) COMMENT 'Sentiment 0..1 of customer messages (>= 0.5 positive)',
    attrs        String COMMENT 'Free-form attributes as JSON',
    kafka_topic     LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (case_id, ts, event_id)
COMMENT 'One row per touchpoint event, as received (text masked)';

CREATE TABLE IF NOT EXISTS cx.reviews
(
    review_id    String,
    customer_id  String,
    case_id      String COMMENT 'Empty when the review is not tied to a case',
    channel      LowCardinality(String),
    rating       Nullable(UInt8) COMMENT 'Star rating 1-5 when given',
    ts           DateTime64(3, 'UTC'),
    source       LowCardinality(String) COMMENT 'Where the review came from (app store, survey, ...)',
    text         String COMMENT 'Review text, normalised and PII masked',
    sentiment    Float32 COMMENT 'Probability the review is positive, 0..1',
    label        LowCardinality(String) COMMENT 'positive (sentiment >= 0.5) | negative',
    tokens       Array(String) COMMENT 'jieba segmentation',
    keywords     Array(String) COMMENT 'Top keywords (TF-IDF)',
    aspects      Array(Tuple(aspect LowCardinality(String), polarity LowCardinality(String)))
                 COMMENT 'Service aspects mentioned, each with its clause polarity',
    kafka_topic     LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (review_id, ts)
COMMENT 'One row per review with its text analytics';

CREATE TABLE IF NOT EXISTS cx.dlq
(
    source_topic    LowCardinality(String) COMMENT 'Topic the rejected message came from',
    kafka_partition UInt16,
    kafka_offset    UInt64,
    reason          String COMMENT 'Why it was rejected',
    payload         String COMMENT 'The raw message, as received',
    received_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY (source_topic, kafka_partition, kafka_offset)
COMMENT 'Input that could not be processed, kept with the reason (nothing is dropped)';
