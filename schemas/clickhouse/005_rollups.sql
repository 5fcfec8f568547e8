-- Rollups for the dashboards: per minute and per hour, per channel and department.
-- Each is a refreshable materialized view that recomputes its table from the analyst views (which
-- read FINAL), and the refresh swaps the whole table at once. So a redelivered or replayed event,
-- which the views show once, is counted once here too; an insert-triggered view would count it twice.
-- Minute tables are rebuilt from the views every minute; hour tables from the minute tables right
-- after (DEPENDS ON), so the two grains always agree. Quantiles are kept as mergeable states: a
-- dashboard merges them over any interval with quantilesDeterministicMerge(0.5, 0.9, 0.99)(...).
-- Deterministic sampling (keyed by the case) makes the same rows give the same figures, whatever
-- the order they were read in; exact up to 8,192 values per merged group.
-- Time columns are bucket starts in UTC; ORDER BY starts with the bucket for time-range filters.

-- Touchpoints: volumes and what happened (by event time).
CREATE TABLE IF NOT EXISTS cx.rollup_touchpoints_1m
(
    bucket             DateTime('UTC')         COMMENT 'Start of the minute (UTC)',
    channel            Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel of the touchpoint',
    department         LowCardinality(String)  COMMENT 'Department involved; empty for customer-only events',
    touchpoints        UInt64                  COMMENT 'Touchpoint events',
    contacts_opened    UInt64                  COMMENT 'contact_opened events (new cases)',
    customer_messages  UInt64                  COMMENT 'Messages from customers',
    agent_replies      UInt64                  COMMENT 'Replies from agents',
    handoffs           UInt64                  COMMENT 'Transfers between agents or departments',
    promises           UInt64                  COMMENT 'Promises made to customers',
    resolutions        UInt64                  COMMENT 'Cases marked resolved',
    reopens            UInt64                  COMMENT 'Cases reopened',
    follow_ups         UInt64                  COMMENT 'Follow-up calls or visits done',
    scored_messages    UInt64                  COMMENT 'Customer messages with a sentiment score',
    sentiment_sum      Float64                 COMMENT 'Sum of those scores (mean = sentiment_sum / scored_messages)',
    negative_messages  UInt64                  COMMENT 'Scored customer messages below 0.5'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, department)
COMMENT 'Touchpoint volumes per minute, channel and department (rebuilt every minute from cx.v_touchpoints)';

CREATE TABLE IF NOT EXISTS cx.rollup_touchpoints_1h AS cx.rollup_touchpoints_1m
COMMENT 'Touchpoint volumes per hour, channel and department (rebuilt from the minute rollup)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_touchpoints_1m_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_touchpoints_1m
AS SELECT toStartOfMinute(ts) AS bucket, CAST(channel AS String) AS channel, department,
          count() AS touchpoints,
          countIf(kind = 'contact_opened') AS contacts_opened,
          countIf(kind = 'customer_message') AS customer_messages,
          countIf(kind = 'agent_reply') AS agent_replies,
          countIf(kind = 'transfer') AS handoffs,
          countIf(kind = 'promise') AS promises,
          countIf(kind = 'resolved') AS resolutions,
          countIf(kind = 'reopened') AS reopens,
          countIf(kind = 'follow_up') AS follow_ups,
          countIf(sentiment IS NOT NULL) AS scored_messages,
          sumIf(toFloat64(assumeNotNull(sentiment)), sentiment IS NOT NULL) AS sentiment_sum,
          countIf(sentiment < 0.5) AS negative_messages
FROM cx.v_touchpoints
GROUP BY bucket, channel, department;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_touchpoints_1h_refresh
REFRESH EVERY 1 MINUTE DEPENDS ON cx.rollup_touchpoints_1m_refresh TO cx.rollup_touchpoints_1h
AS SELECT toStartOfHour(bucket) AS bucket, channel, department,
          sum(touchpoints) AS touchpoints, sum(contacts_opened) AS contacts_opened,
          sum(customer_messages) AS customer_messages, sum(agent_replies) AS agent_replies,
          sum(handoffs) AS handoffs, sum(promises) AS promises, sum(resolutions) AS resolutions,
          sum(reopens) AS reopens, sum(follow_ups) AS follow_ups, sum(scored_messages) AS scored_messages,
          sum(sentiment_sum) AS sentiment_sum, sum(negative_messages) AS negative_messages
FROM cx.rollup_touchpoints_1m
GROUP BY bucket, channel, department;

-- Reviews: satisfaction share, rating, sentiment (by review time; department of the case reviewed).
CREATE TABLE IF NOT EXISTS cx.rollup_reviews_1m
(
    bucket          DateTime('UTC')         COMMENT 'Start of the minute (UTC)',
    channel         Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel the review is about',
    department      LowCardinality(String)  COMMENT 'Department holding the reviewed case; empty when the review has no case',
    reviews         UInt64                  COMMENT 'Reviews written',
    positive        UInt64                  COMMENT 'Positive reviews (satisfaction share = positive / reviews)',
    rated           UInt64                  COMMENT 'Reviews with a star rating',
    rating_sum      UInt64                  COMMENT 'Sum of the stars (mean rating = rating_sum / rated)',
    sentiment_sum   Float64                 COMMENT 'Sum of review sentiment (mean = sentiment_sum / reviews)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, department)
COMMENT 'Review satisfaction per minute, channel and department (rebuilt every minute from cx.v_reviews)';

CREATE TABLE IF NOT EXISTS cx.rollup_reviews_1h AS cx.rollup_reviews_1m
COMMENT 'Review satisfaction per hour, channel and department (rebuilt from the minute rollup)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_reviews_1m_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_reviews_1m
AS SELECT toStartOfMinute(r.ts) AS bucket, CAST(r.channel AS String) AS channel, c.department AS department,
          count() AS reviews, countIf(r.positive) AS positive, countIf(r.rating IS NOT NULL) AS rated,
          sum(ifNull(r.rating, 0)) AS rating_sum, sum(toFloat64(r.sentiment)) AS sentiment_sum
FROM cx.v_reviews AS r
LEFT JOIN (SELECT case_id, department FROM cx.v_cases) AS c ON c.case_id = r.case_id
GROUP BY bucket, channel, department;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_reviews_1h_refresh
REFRESH EVERY 1 MINUTE DEPENDS ON cx.rollup_reviews_1m_refresh TO cx.rollup_reviews_1h
AS SELECT toStartOfHour(bucket) AS bucket, channel, department, sum(reviews) AS reviews, sum(positive) AS positive,
          sum(rated) AS rated, sum(rating_sum) AS rating_sum, sum(sentiment_sum) AS sentiment_sum
FROM cx.rollup_reviews_1m
GROUP BY bucket, channel, department;

-- Review terms: keywords and aspects by polarity, per hour (what customers talk about).
CREATE TABLE IF NOT EXISTS cx.rollup_review_terms_1h
(
    bucket      DateTime('UTC')         COMMENT 'Start of the hour (UTC)',
    channel     Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel the review is about',
    term_kind   Enum8('keyword' = 1, 'aspect' = 2) COMMENT 'keyword: a top keyword of the review; aspect: a service aspect it mentions',
    term        LowCardinality(String)  COMMENT 'The keyword, or the aspect (attitude, speed, quality, price, environment, ownership, honesty)',
    polarity    Enum8('negative' = 1, 'positive' = 2) COMMENT 'Keywords: the review''s label; aspects: the polarity of the clause',
    mentions    UInt64                  COMMENT 'Reviews that mention it'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, term_kind, polarity, term, channel)
COMMENT 'Keywords and aspects of reviews per hour, channel and polarity (rebuilt every minute from cx.v_reviews)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_review_terms_1h_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_review_terms_1h
AS SELECT bucket, channel, term_kind, term, polarity, count() AS mentions
FROM
(
    SELECT toStartOfHour(ts) AS bucket, CAST(channel AS String) AS channel, 'keyword' AS term_kind,
           arrayJoin(arrayDistinct(keywords)) AS term, if(positive, 'positive', 'negative') AS polarity
    FROM cx.v_reviews
    UNION ALL
    SELECT toStartOfHour(ts) AS bucket, CAST(channel AS String) AS channel, 'aspect' AS term_kind,
           tupleElement(a, 1) AS term, CAST(tupleElement(a, 2) AS String) AS polarity
    FROM cx.v_reviews ARRAY JOIN arrayDistinct(aspects) AS a
)
WHERE polarity IN ('negative', 'positive')
GROUP BY bucket, channel, term_kind, term, polarity;

-- Responses: first and next reply waits and SLA attainment (by reply time; department of the replier).
CREATE TABLE IF NOT EXISTS cx.rollup_responses_1m
(
    bucket      DateTime('UTC')         COMMENT 'Start of the minute the reply was given (UTC)',
    channel     Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel the customer wrote on',
    department  LowCardinality(String)  COMMENT 'Department of the agent who replied',
    kind        Enum8('first' = 1, 'next' = 2) COMMENT 'first: first reply on a case; next: reply to a later message',
    replies     UInt64                  COMMENT 'Customer messages answered',
    with_limit  UInt64                  COMMENT 'Of those, answers with an SLA limit',
    within_sla  UInt64                  COMMENT 'Answered by the SLA deadline (SLA attainment = within_sla / with_limit)',
    wait_ms_sum UInt64                  COMMENT 'Sum of the waits in milliseconds (mean = wait_ms_sum / replies)',
    wait_ms     AggregateFunction(quantilesDeterministic(0.5, 0.9, 0.99), UInt64, UInt64) COMMENT 'Wait quantiles p50/p90/p99 as a state: quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, department, kind)
COMMENT 'Reply waits and SLA attainment per minute, channel, department and kind (rebuilt every minute from cx.v_responses)';

CREATE TABLE IF NOT EXISTS cx.rollup_responses_1h AS cx.rollup_responses_1m
COMMENT 'Reply waits and SLA attainment per hour, channel, department and kind (rebuilt from the minute rollup)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_responses_1m_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_responses_1m
AS SELECT toStartOfMinute(answered_at) AS bucket, CAST(channel AS String) AS channel, department, CAST(kind AS String) AS kind,
          count() AS replies, countIf(r.within_sla IS NOT NULL) AS with_limit, countIf(r.within_sla) AS within_sla,
          sum(r.wait_ms) AS wait_ms_sum, quantilesDeterministicState(0.5, 0.9, 0.99)(r.wait_ms, cityHash64(r.case_id, r.asked_at)) AS wait_ms
FROM cx.v_responses AS r
GROUP BY bucket, channel, department, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_responses_1h_refresh
REFRESH EVERY 1 MINUTE DEPENDS ON cx.rollup_responses_1m_refresh TO cx.rollup_responses_1h
AS SELECT toStartOfHour(bucket) AS bucket, channel, department, kind, sum(replies) AS replies, sum(with_limit) AS with_limit,
          sum(within_sla) AS within_sla, sum(wait_ms_sum) AS wait_ms_sum, quantilesDeterministicMergeState(0.5, 0.9, 0.99)(m.wait_ms) AS wait_ms
FROM cx.rollup_responses_1m AS m
GROUP BY bucket, channel, department, kind;

-- Alerts: breaches (at their deadline) and recoveries (when the wait ended).
CREATE TABLE IF NOT EXISTS cx.rollup_alerts_1m
(
    bucket      DateTime('UTC')         COMMENT 'Start of the minute: the deadline for breaches, the end of the wait for recoveries (UTC)',
    channel     Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel of the wait',
    department  LowCardinality(String)  COMMENT 'Department holding the case when detected',
    rule        Enum8('first_response' = 1, 'next_reply' = 2, 'resolution' = 3, 'handoffs' = 4, 'promise' = 5, 'follow_up' = 6) COMMENT 'SLA rule',
    breaches    UInt64                  COMMENT 'SLA breaches',
    recoveries  UInt64                  COMMENT 'Breaches whose wait ended',
    recovered_wait_ms_sum UInt64        COMMENT 'Sum of the whole waits of those recoveries, in milliseconds'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, department, rule)
COMMENT 'SLA breaches and recoveries per minute, channel, department and rule (rebuilt every minute from cx.v_alerts)';

CREATE TABLE IF NOT EXISTS cx.rollup_alerts_1h AS cx.rollup_alerts_1m
COMMENT 'SLA breaches and recoveries per hour, channel, department and rule (rebuilt from the minute rollup)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_alerts_1m_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_alerts_1m
AS SELECT toStartOfMinute(if(status = 'breach', deadline, ifNull(ended_at, detected_at))) AS bucket,
          CAST(channel AS String) AS channel, department, CAST(rule AS String) AS rule,
          countIf(status = 'breach') AS breaches, countIf(status = 'recovery') AS recoveries,
          sumIf(waited_ms, status = 'recovery') AS recovered_wait_ms_sum
FROM cx.v_alerts
GROUP BY bucket, channel, department, rule;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_alerts_1h_refresh
REFRESH EVERY 1 MINUTE DEPENDS ON cx.rollup_alerts_1m_refresh TO cx.rollup_alerts_1h
AS SELECT toStartOfHour(bucket) AS bucket, channel, department, rule, sum(breaches) AS breaches,
          sum(recoveries) AS recoveries, sum(recovered_wait_ms_sum) AS recovered_wait_ms_sum
FROM cx.rollup_alerts_1m
GROUP BY bucket, channel, department, rule;

-- Cases: the closed loop, by the time the case was opened ("cases opened then, and what became of them").
CREATE TABLE IF NOT EXISTS cx.rollup_cases_1m
(
    bucket            DateTime('UTC')         COMMENT 'Start of the minute the case was opened (UTC)',
    channel           Enum8('phone' = 1, 'chat' = 2, 'email' = 3, 'app' = 4, 'social' = 5, 'store' = 6, 'field' = 7) COMMENT 'Channel the case was opened on',
    department        LowCardinality(String)  COMMENT 'Department now holding the case',
    cases             UInt64                  COMMENT 'Cases opened',
    resolved          UInt64                  COMMENT 'Of those, resolved',
    resolution_ms     AggregateFunction(quantilesDeterministic(0.5, 0.9, 0.99), UInt64, UInt64) COMMENT 'Opened-to-resolved quantiles p50/p90/p99 as a state (resolved cases)',
    handoffs          UInt64                  COMMENT 'Transfers on those cases',
    promises          UInt64                  COMMENT 'Promises made on those cases',
    promises_kept     UInt64                  COMMENT 'Promises kept (promise-kept rate = promises_kept / promises)',
    promises_broken   UInt64                  COMMENT 'Promises whose time passed first',
    follow_ups_due    UInt64                  COMMENT 'Resolved cases whose follow-up is settled (done or missed)',
    follow_ups_done   UInt64                  COMMENT 'Followed up in time (follow-up rate = follow_ups_done / follow_ups_due)',
    recontacts        UInt64                  COMMENT 'Times customers came back after a resolution',
    reopens           UInt64                  COMMENT 'Times cases were reopened',
    mood_pairs        UInt64                  COMMENT 'Cases with a first and a latest scored customer message',
    first_sentiment_sum Float64               COMMENT 'Sum of the first messages'' sentiment over mood_pairs',
    last_sentiment_sum  Float64               COMMENT 'Sum of the latest messages'' sentiment over mood_pairs',
    turned_around     UInt64                  COMMENT 'Cases whose customer started negative (< 0.5) and ended positive',
    soured            UInt64                  COMMENT 'Cases whose customer started positive and ended negative'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, department)
COMMENT 'Closed-loop measures of cases per opening minute, channel and department (rebuilt every minute from cx.v_cases)';

CREATE TABLE IF NOT EXISTS cx.rollup_cases_1h AS cx.rollup_cases_1m
COMMENT 'Closed-loop measures of cases per opening hour, channel and department (rebuilt from the minute rollup)';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_cases_1m_refresh
REFRESH EVERY 1 MINUTE TO cx.rollup_cases_1m
AS SELECT toStartOfMinute(opened_at) AS bucket, CAST(channel AS String) AS channel, department,
          count() AS cases, countIf(resolved_at IS NOT NULL) AS resolved,
          quantilesDeterministicStateIf(0.5, 0.9, 0.99)(ifNull(c.resolution_ms, 0), cityHash64(c.case_id), c.resolution_ms IS NOT NULL) AS resolution_ms,
          sum(handoffs) AS handoffs, sum(promises) AS promises, sum(promises_kept) AS promises_kept,
          sum(promises_broken) AS promises_broken, countIf(follow_up_done IS NOT NULL) AS follow_ups_due,
          countIf(follow_up_done) AS follow_ups_done, sum(recontacts) AS recontacts, sum(reopens) AS reopens,
          countIf(first_sentiment IS NOT NULL AND last_sentiment IS NOT NULL) AS mood_pairs,
          sumIf(toFloat64(assumeNotNull(first_sentiment)), first_sentiment IS NOT NULL AND last_sentiment IS NOT NULL) AS first_sentiment_sum,
          sumIf(toFloat64(assumeNotNull(last_sentiment)), first_sentiment IS NOT NULL AND last_sentiment IS NOT NULL) AS last_sentiment_sum,
          countIf(first_sentiment < 0.5 AND last_sentiment >= 0.5) AS turned_around,
          countIf(first_sentiment >= 0.5 AND last_sentiment < 0.5) AS soured
FROM cx.v_cases AS c
GROUP BY bucket, channel, department;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.rollup_cases_1h_refresh
REFRESH EVERY 1 MINUTE DEPENDS ON cx.rollup_cases_1m_refresh TO cx.rollup_cases_1h
AS SELECT toStartOfHour(bucket) AS bucket, channel, department, sum(cases) AS cases, sum(resolved) AS resolved,
          quantilesDeterministicMergeState(0.5, 0.9, 0.99)(m.resolution_ms) AS resolution_ms, sum(handoffs) AS handoffs,
          sum(promises) AS promises, sum(promises_kept) AS promises_kept, sum(promises_broken) AS promises_broken,
          sum(follow_ups_due) AS follow_ups_due, sum(follow_ups_done) AS follow_ups_done,
          sum(recontacts) AS recontacts, sum(reopens) AS reopens, sum(mood_pairs) AS mood_pairs,
          sum(first_sentiment_sum) AS first_sentiment_sum, sum(last_sentiment_sum) AS last_sentiment_sum,
          sum(turned_around) AS turned_around, sum(soured) AS soured
FROM cx.rollup_cases_1m AS m
GROUP BY bucket, channel, department;

-- Skip indexes so time-range filters on the raw tables (and the views over them) skip granules.
ALTER TABLE cx.touchpoints ADD INDEX IF NOT EXISTS ts_minmax ts TYPE minmax GRANULARITY 1;
ALTER TABLE cx.reviews ADD INDEX IF NOT EXISTS ts_minmax ts TYPE minmax GRANULARITY 1;
ALTER TABLE cx.responses ADD INDEX IF NOT EXISTS answered_minmax answered_at TYPE minmax GRANULARITY 1;
ALTER TABLE cx.alerts ADD INDEX IF NOT EXISTS detected_minmax detected_at TYPE minmax GRANULARITY 1;
ALTER TABLE cx.cases ADD INDEX IF NOT EXISTS opened_minmax opened_at TYPE minmax GRANULARITY 1
