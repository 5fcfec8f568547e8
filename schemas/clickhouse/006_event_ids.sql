-- One id, one event. Landing looks up each batch's ids here and dead-letters a message that reuses an
-- id for different content; a redelivery (same content) lands again. Ordered by id with small granules
-- so a batch's lookup reads a few granules, not the whole history. Events landed before this table
-- existed are not in it (not compared).
CREATE TABLE IF NOT EXISTS cx.event_ids
(
    source          LowCardinality(String) COMMENT 'Table the event landed in: cx.touchpoints or cx.reviews',
    id              String COMMENT 'event_id of a touchpoint, review_id of a review',
    content_hash    UInt64 COMMENT 'Fingerprint of the validated event',
    kafka_topic     LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (source, id)
SETTINGS index_granularity = 1024
COMMENT 'Each landed event id with the fingerprint of its content (first use wins)'
