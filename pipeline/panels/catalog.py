"""The four dashboards and the alert rules: every panel's SQL, once, on the rollups and analyst views.

SQL uses the ClickHouse datasource plugin's macros ($__timeFilter, $__timeInterval, $__fromTime,
$__toTime, $__interval_s) and the dashboards' template variables ($channel, $department, $case).
"""

from __future__ import annotations

from pipeline.config import Targets
from pipeline.events.models import Channel
from pipeline.panels.model import AlertRule, Dashboard, Panel

# Template-variable filters. Every rollup row has a channel; department is empty for rows no
# department touched, so "All" is a marker that matches them too.
ALL_DEPARTMENTS = "__all"
CHANNEL = "channel IN (${channel:singlequote})"
DEPARTMENT = f"(has([${{department:singlequote}}], '{ALL_DEPARTMENTS}') OR department IN (${{department:singlequote}}))"
FILTERS = f"{CHANNEL} AND {DEPARTMENT}"


def rollup(subject: str) -> str:
    """The minute rollup of `subject` for intervals under an hour, the hour rollup from there on
    (ClickHouse drops the branch whose constant condition is false)."""
    return (
        f"(SELECT * FROM cx.rollup_{subject}_1m WHERE $__interval_s < 3600"
        f" UNION ALL SELECT * FROM cx.rollup_{subject}_1h WHERE $__interval_s >= 3600)"
    )


def _series(select: str, subject: str, where: str = "", by: str = "") -> str:
    extra = f" AND {where}" if where else ""
    group = f", {by}" if by else ""
    return (
        f"SELECT $__timeInterval(bucket) AS time{', ' + by if by else ''}, {select}\n"
        f"FROM {rollup(subject)}\nWHERE $__timeFilter(bucket) AND {FILTERS}{extra}\n"
        f"GROUP BY time{group} ORDER BY time{group}"
    )


def _reply_p90(kind: str, title: str, waits_for: str) -> Panel:
    """The p90 wait per channel for one kind of reply (first or next), over time."""
    return Panel(
        f"{kind}_reply_p90",
        title,
        _series(
            "quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms)[2] / 1000 AS p90", "responses",
            where=f"kind = '{kind}'", by="channel",
        ),
        "timeseries", f"90th percentile of the wait for {waits_for}, per channel.", unit="s",
    )  # fmt: skip


def _total(select: str, subject: str, where: str = "") -> str:
    extra = f" AND {where}" if where else ""
    return f"SELECT {select}\nFROM {rollup(subject)}\nWHERE $__timeFilter(bucket) AND {FILTERS}{extra}"


_ASPECT_BY_CHANNEL = ",\n       ".join(
    f"round(sumIf(mentions, polarity = 'negative' AND channel = '{c.value}')"
    f" / nullIf(sumIf(mentions, channel = '{c.value}'), 0), 2) AS {c.value}"
    for c in Channel
)

OVERVIEW = Dashboard(
    uid="cx-overview",
    title="CX overview 客户体验总览",
    description="Satisfaction against target, ratings, sentiment by channel, volumes and rejected input.",
    panels=(
        Panel(
            "satisfaction_share",
            "Satisfaction share 满意度 (positive reviews / reviews)",
            _series("sum(positive) / sum(reviews) AS satisfaction", "reviews"),
            "timeseries", "Share of reviews scored positive, against the satisfaction target.",
            unit="percentunit", target="satisfaction",
        ),
        Panel(
            "satisfaction_now",
            "Satisfaction share in range 区间满意度",
            _total("sum(positive) / nullIf(sum(reviews), 0) AS satisfaction", "reviews"),
            "stat", "Positive reviews / reviews over the whole time range.", unit="percentunit",
            target="satisfaction", width=6,
        ),
        Panel(
            "mean_rating",
            "Mean rating 平均评分",
            _total("round(sum(rating_sum) / nullIf(sum(rated), 0), 2) AS rating", "reviews"),
            "stat", "Mean star rating (1-5) of reviews that gave one.", unit="none", width=6,
        ),
        Panel(
            "channel_satisfaction",
            "Satisfaction by channel 各渠道满意度",
            "SELECT channel, sum(r.reviews) AS reviews, round(sum(r.positive) / sum(r.reviews), 3) AS satisfaction,\n"
            "       round(sum(r.rating_sum) / nullIf(sum(r.rated), 0), 2) AS mean_rating,\n"
            "       round(sum(r.sentiment_sum) / sum(r.reviews), 3) AS mean_sentiment\n"
            f"FROM {rollup('reviews')} AS r\nWHERE $__timeFilter(bucket) AND {FILTERS}\nGROUP BY channel ORDER BY channel",
            "table", "Reviews, satisfaction share, mean rating and mean sentiment per channel over the range.",
        ),
        Panel(
            "sentiment_by_channel",
            "Review sentiment by channel 各渠道情感",
            _series("sum(sentiment_sum) / sum(reviews) AS sentiment", "reviews", by="channel"),
            "timeseries", "Mean sentiment of reviews (0 negative .. 1 positive) per channel.", unit="percentunit",
        ),
        Panel(
            "volumes",
            "Volumes 业务量",
            "SELECT time, sum(contacts) AS contacts, sum(messages) AS customer_messages,"
            " sum(replies) AS agent_replies, sum(reviews) AS reviews\nFROM (\n"
            "  SELECT $__timeInterval(bucket) AS time, contacts_opened AS contacts, customer_messages AS messages,"
            f" agent_replies AS replies, 0 AS reviews\n  FROM {rollup('touchpoints')}\n  WHERE $__timeFilter(bucket) AND {FILTERS}\n"
            "  UNION ALL\n"
            f"  SELECT $__timeInterval(bucket), 0, 0, 0, reviews\n  FROM {rollup('reviews')}\n  WHERE $__timeFilter(bucket) AND {FILTERS}\n"
            ")\nGROUP BY time ORDER BY time",
            "timeseries", "New contacts, customer messages, agent replies and reviews per interval.",
        ),
        Panel(
            "dlq",
            "Rejected input 死信 (DLQ)",
            "SELECT source_topic, reason, count() AS messages, max(received_at) AS last_seen\nFROM cx.v_dlq\n"
            "WHERE $__timeFilter(received_at)\nGROUP BY source_topic, reason ORDER BY messages DESC LIMIT 50",
            "table", "Messages that could not be processed, by reason (replay them from cx.dlq).",
        ),
    ),
)

LATENCY = Dashboard(
    uid="cx-latency",
    title="Response latency and SLA 响应时效与SLA",
    description="First and next reply waits, SLA attainment, open breaches, handoffs and breach notices.",
    case_variable=True,
    panels=(
        _reply_p90("first", "First reply p90 by channel 首次响应 p90", "the first reply"),
        _reply_p90("next", "Next reply p90 by channel 后续响应 p90", "replies to later messages"),
        Panel(
            "reply_quantiles",
            "Reply waits p50 / p90 / p99 回复等待分位数",
            "SELECT channel, kind, sum(replies) AS replies,\n"
            "       round(quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms)[1] / 1000, 1) AS p50_s,\n"
            "       round(quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms)[2] / 1000, 1) AS p90_s,\n"
            "       round(quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms)[3] / 1000, 1) AS p99_s\n"
            f"FROM {rollup('responses')}\nWHERE $__timeFilter(bucket) AND {FILTERS}\n"
            "GROUP BY channel, kind ORDER BY channel, kind",
            "table", "Wait quantiles per channel for first and next replies, in seconds.",
        ),
        Panel(
            "sla_attainment",
            "SLA attainment SLA达成率",
            _series("sum(within_sla) / nullIf(sum(with_limit), 0) AS attainment", "responses"),
            "timeseries", "Replies given by their SLA deadline / replies with a deadline.", unit="percentunit",
            target="sla",
        ),
        Panel(
            "breaches",
            "Breaches and recoveries 超时与恢复",
            _series("sum(breaches) AS breaches, sum(recoveries) AS recoveries", "alerts"),
            "timeseries", "SLA breaches (at their deadline) and recoveries (when the wait ended).",
        ),
        Panel(
            "breaches_by_rule",
            "Breaches by rule 各规则超时",
            "SELECT rule, sum(a.breaches) AS breaches, sum(a.recoveries) AS recoveries,\n"
            "       round(sum(a.recovered_wait_ms_sum) / nullIf(sum(a.recoveries), 0) / 60000, 1) AS mean_recovered_wait_min\n"
            f"FROM {rollup('alerts')} AS a\nWHERE $__timeFilter(bucket) AND {FILTERS}\nGROUP BY rule ORDER BY rule",
            "table", "SLA breaches and recoveries per rule, with the mean whole wait of the recovered ones.",
        ),
        Panel(
            "open_breaches",
            "Open breaches 未恢复的超时",
            "SELECT case_id, rule, channel, department, agent_id AS agent, deadline,\n"
            "       round(dateDiff('second', started_at, now()) / 60) AS waited_min, detail\n"
            "FROM cx.v_alerts\n"
            "WHERE status = 'breach' AND rule != 'handoffs'\n"
            "  AND alert_id NOT IN (SELECT alert_id FROM cx.v_alerts WHERE status = 'recovery')\n"
            f"  AND {FILTERS} AND (${{case:sqlstring}} = '' OR case_id = ${{case:sqlstring}})\n"
            "ORDER BY deadline LIMIT 200",
            "table", "Breaches whose wait is not over, oldest deadline first (the case box narrows it to one case); "
            "a handoffs breach is a transfer too many, not a wait, so it is in the breaches panels only.",
            width=24, expects_rows=False,
        ),
        Panel(
            "case_timeline",
            "Case timeline 工单时间线",
            "SELECT ts, kind, actor, agent_id AS agent, department, text, round(sentiment, 2) AS sentiment\n"
            "FROM cx.v_touchpoints\nWHERE case_id = ${case:sqlstring}\nORDER BY ts",
            "table", "Every touchpoint of the case in the case box (breach notices link here with it filled in).",
            width=24, expects_rows=False,
        ),
        Panel(
            "handoff_distribution",
            "Handoffs per case 转接次数分布",
            "SELECT toString(handoffs) AS handoffs, count() AS cases\nFROM cx.v_cases\n"
            f"WHERE $__timeFilter(opened_at) AND {FILTERS}\nGROUP BY handoffs ORDER BY toUInt32(handoffs)",
            "barchart", "Cases opened in range by how many times they were passed on.",
        ),
        Panel(
            "notices",
            "Breach notices sent 已发送通知",
            "SELECT subscriber, channel, kind, status, count() AS alerts, uniqExact(delivery_id) AS messages,\n"
            "       round(quantile(0.5)(latency_ms) / 1000, 2) AS p50_delay_s, round(max(latency_ms) / 1000, 2) AS max_delay_s\n"
            "FROM cx.v_alert_deliveries\nWHERE $__timeFilter(detected_at)\n"
            "GROUP BY subscriber, channel, kind, status ORDER BY subscriber, kind, status",
            "table", "Alerts told to each subscriber by kind and outcome, messages sent (a digest covers several), "
            "and the notifier's own delay.",
            expects_rows=False,
        ),
        Panel(
            "source_lateness",
            "Event lateness by source 数据延迟（按来源）",
            "SELECT l.source AS source, l.channel AS channel, sum(l.events) AS events,\n"
            "       round(max(l.behind_p99_ms) / 60000, 1) AS behind_others_p99_min, sum(l.out_of_order) AS out_of_order,\n"
            "       round(sum(l.p50_ms * l.events) / nullIf(sum(l.events), 0) / 60000, 1) AS arrival_p50_min,\n"
            "       any(e.behind) AS behind_clock, any(e.odd) AS odd_times\n"
            "FROM cx.v_source_lateness AS l\n"
            "LEFT JOIN (SELECT source, channel, countIf(reason IN ('behind_watermark', 'past_horizon')) AS behind,\n"
            "                  countIf(reason IN ('ahead_of_wall_clock', 'far_ahead_of_partition')) AS odd\n"
            "           FROM cx.v_late_events WHERE $__timeFilter(detected_at) GROUP BY source, channel) AS e\n"
            "       ON e.source = l.source AND e.channel = l.channel\n"
            f"WHERE $__timeFilter(l.hour) AND l.{CHANNEL}\n"
            "GROUP BY source, channel ORDER BY behind_others_p99_min DESC, source",
            "table", "How late each source system's events come (the source is the event's attrs.source, else its "
            "channel): how far behind the other events on their partition they arrived (p99, and how many arrived out "
            "of order: a lagging source, replay or live), the median arrival delay (arrival - event time; live, the "
            "transport's delay), how many arrived behind their case's clock (the record was corrected) and how many "
            "had odd times. Tells \"the phone SLA looks bad\" from \"the phone system's events are late\".",
            width=24,
        ),
        Panel(
            "source_lateness_p99",
            "Source lag p99 来源延迟 p99",
            "SELECT $__timeInterval(hour) AS time, source, max(behind_p99_ms) / 60000 AS behind_p99_min\n"
            f"FROM cx.v_source_lateness\nWHERE $__timeFilter(hour) AND {CHANNEL}\n"
            "GROUP BY time, source ORDER BY time, source",
            "timeseries", "99th percentile of how far behind the other events on their partition each source's events "
            "arrived, per hour, in minutes.", unit="m",
        ),
    ),
)

def _keywords(polarity: str, title: str) -> Panel:
    return Panel(
        f"{polarity}_keywords",
        title,
        "SELECT term AS keyword, sum(mentions) AS reviews\nFROM cx.rollup_review_terms_1h\n"
        f"WHERE $__timeFilter(bucket) AND {CHANNEL} AND term_kind = 'keyword' AND polarity = '{polarity}'\n"
        "GROUP BY keyword ORDER BY reviews DESC, keyword LIMIT 15",
        "barchart", f"Keywords of {polarity} reviews, by how many reviews use them.",
    )


VOICE = Dashboard(
    uid="cx-voice",
    title="Voice of the customer 客户之声",
    description="What customers praise and complain about: keywords, aspects per channel, latest negative reviews, early warning.",
    panels=(
        _keywords("negative", "Top complaint keywords 负面关键词"),
        _keywords("positive", "Top praise keywords 正面关键词"),
        Panel(
            "aspect_channel",
            "Negative share by aspect and channel 各方面负面占比",
            f"SELECT term AS aspect,\n       {_ASPECT_BY_CHANNEL}\nFROM cx.rollup_review_terms_1h\n"
            f"WHERE $__timeFilter(bucket) AND {CHANNEL} AND term_kind = 'aspect'\nGROUP BY aspect ORDER BY aspect",
            "heatmap", "Share of mentions of each service aspect that are negative, per channel (empty: not mentioned).",
            unit="percentunit", width=24,
        ),
        Panel(
            "early_warning",
            "Early warning: aspect complaints vs last week 预警",
            "SELECT term AS aspect,\n"
            "       sumIf(mentions, bucket >= $__toTime - INTERVAL 7 DAY) AS this_week,\n"
            "       sumIf(mentions, bucket < $__toTime - INTERVAL 7 DAY) AS last_week,\n"
            "       round(this_week / nullIf(last_week, 0), 2) AS ratio\n"
            "FROM cx.rollup_review_terms_1h\n"
            f"WHERE bucket >= $__toTime - INTERVAL 14 DAY AND bucket < $__toTime AND {CHANNEL}\n"
            "  AND term_kind = 'aspect' AND polarity = 'negative'\n"
            "GROUP BY aspect ORDER BY ratio DESC NULLS FIRST, this_week DESC",
            "table", "Negative mentions of each aspect in the 7 days to the end of the range vs the 7 days before; "
            "a ratio of 2 or more is what the complaint-growth alert fires on (empty ratio: new this week).",
        ),
        Panel(
            "negative_reviews",
            "Latest negative reviews 最新差评",
            "SELECT ts, channel, rating, round(sentiment, 2) AS sentiment, text,\n"
            "       arrayStringConcat(arrayMap(a -> a.1, arrayFilter(a -> a.2 = 'negative', aspects)), ', ') AS complaints\n"
            f"FROM cx.v_reviews\nWHERE $__timeFilter(ts) AND {CHANNEL} AND NOT positive\nORDER BY ts DESC LIMIT 50",
            "table", "Newest negative reviews (personal data masked) with the aspects they complain about.",
            width=24,
        ),
    ),
)

CLOSED_LOOP = Dashboard(
    uid="cx-closed-loop",
    title="Closed loop 服务闭环",
    description="Cases opened in the range and what became of them: resolution, promises, follow-ups, re-contacts, mood.",
    panels=(
        Panel(
            "resolution_time",
            "Resolution time p50 / p90 解决时长",
            _series(
                "quantilesDeterministicMerge(0.5, 0.9, 0.99)(resolution_ms)[1] / 3600000 AS p50,"
                " quantilesDeterministicMerge(0.5, 0.9, 0.99)(resolution_ms)[2] / 3600000 AS p90",
                "cases", where="resolved > 0",
            ),
            "timeseries", "Opened-to-resolved time of the cases opened in each interval, in hours.", unit="h",
        ),
        Panel(
            "promises_kept",
            "Promises kept by channel 承诺兑现率",
            _series("sum(promises_kept) / nullIf(sum(promises), 0) AS kept", "cases", by="channel"),
            "timeseries", "Promises kept / promises made, per channel.", unit="percentunit",
        ),
        Panel(
            "follow_up_rate",
            "Follow-up rate 回访率",
            _series("sum(follow_ups_done) / nullIf(sum(follow_ups_due), 0) AS follow_up", "cases"),
            "timeseries", "Resolved cases followed up in time / resolved cases whose follow-up was due.",
            unit="percentunit", target="follow_up",
        ),
        Panel(
            "recontacts",
            "Re-contacts and reopens 重复来电与重开",
            _series("sum(recontacts) AS recontacts, sum(reopens) AS reopens", "cases"),
            "timeseries", "Customers who came back after a resolution, and cases reopened.",
        ),
        Panel(
            "mood",
            "First vs last message sentiment 首末情绪",
            "SELECT channel, round(sum(first_sentiment_sum) / nullIf(sum(mood_pairs), 0), 3) AS first_message,\n"
            "       round(sum(last_sentiment_sum) / nullIf(sum(mood_pairs), 0), 3) AS last_message,\n"
            "       sum(turned_around) AS turned_around, sum(soured) AS soured\n"
            f"FROM {rollup('cases')}\nWHERE $__timeFilter(bucket) AND {FILTERS}\nGROUP BY channel ORDER BY channel",
            "table", "Did we turn the customer around? Mean sentiment of the first and the latest customer message, "
            "and cases that went from negative to positive (turned around) or the other way (soured).",
            width=24,
        ),
    ),
)

DASHBOARDS = (OVERVIEW, LATENCY, VOICE, CLOSED_LOOP)


def panel(uid: str, key: str) -> Panel:
    """The panel `key` of dashboard `uid`."""
    board = next(b for b in DASHBOARDS if b.uid == uid)
    return next(p for p in board.panels if p.key == key)


def alert_rules(targets: Targets) -> tuple[AlertRule, ...]:
    """The unified-alerting rules, with the configured targets."""
    return (
        AlertRule(
            uid="cx-sla-attainment",
            title="SLA attainment below target",
            sql="SELECT sum(within_sla) / nullIf(sum(with_limit), 0) AS attainment\n"
            "FROM cx.rollup_responses_1m WHERE $__timeFilter(bucket)",
            op="lt", threshold=targets.sla, window_s=600, pending="10m",
            summary=f"Replies within SLA fell below {targets.sla:.0%} for 10 minutes",
            description="Open the Response latency and SLA dashboard: which channel's p90 rose, and the open breaches table.",
        ),
        AlertRule(
            uid="cx-negative-spike",
            title="Negative review share spike vs same hour last week",
            sql="SELECT (1 - sumIf(positive, bucket >= $__fromTime) / nullIf(sumIf(reviews, bucket >= $__fromTime), 0))\n"
            "     - (1 - sumIf(positive, bucket < $__fromTime) / nullIf(sumIf(reviews, bucket < $__fromTime), 0)) AS rise\n"
            "FROM cx.rollup_reviews_1m\n"
            "WHERE $__timeFilter(bucket)\n"
            "   OR (bucket >= $__fromTime - INTERVAL 7 DAY AND bucket <= $__toTime - INTERVAL 7 DAY)",
            op="gt", threshold=targets.negative_rise, window_s=3600, pending="0s",
            summary=f"Negative reviews this hour are {targets.negative_rise:.0%} (points) above the same hour last week",
            description="Open Voice of the customer: the latest negative reviews and the complaint keywords say what changed.",
        ),
        AlertRule(
            uid="cx-aspect-complaints",
            title="Aspect complaints doubled vs last week",
            sql="SELECT term AS aspect, sumIf(mentions, bucket >= $__toTime - INTERVAL 7 DAY)\n"
            "       / greatest(sumIf(mentions, bucket < $__toTime - INTERVAL 7 DAY), 1) AS growth\n"
            "FROM cx.rollup_review_terms_1h\n"
            "WHERE bucket >= $__toTime - INTERVAL 14 DAY AND bucket < $__toTime\n"
            "  AND term_kind = 'aspect' AND polarity = 'negative'\n"
            "GROUP BY aspect HAVING sumIf(mentions, bucket >= $__toTime - INTERVAL 7 DAY) >= 10",
            op="gt", threshold=targets.complaint_growth, window_s=3600, pending="0s",
            summary="Complaints about {{ $labels.aspect }} grew " + f"{targets.complaint_growth:g}x against the week before (early warning)",
            description="Open Voice of the customer: the aspect x channel table shows where, the latest negative reviews why.",
        ),
        AlertRule(
            uid="cx-source-lagging",
            title="A source's events arrive late",
            sql="SELECT source, max(greatest(p99_ms, behind_p99_ms)) / 60000 AS p99_min\n"
            "FROM cx.v_source_lateness\n"
            "WHERE hour >= toStartOfHour($__toTime - INTERVAL 1 HOUR)\n"
            "GROUP BY source",
            op="gt", threshold=targets.source_lateness_minutes, window_s=3600, pending="5m",
            summary="Events from {{ $labels.source }} arrive more than "
            + f"{targets.source_lateness_minutes:g} minutes after they happened (p99)",
            description="Breaches on this source's channels may be its lateness, not the agents: open the latency "
            "dashboard's 'Event lateness by source' table. Late events correct the record (retractions).",
        ),
    )

