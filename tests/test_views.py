"""Analyst views show each event, review, response, case, alert and delivery once: the same rows
landed twice (redelivery, a replay) give the same figures as one clean landing."""

import subprocess
import sys

from pipeline.events.models import Channel
from pipeline.store import empty_data_tables
from pipeline.panels.catalog import panel
from pipeline.store.rollups import refresh_rollups
from pipeline.summary import summary_sections

from tests.rows import stream_rows

FIGURES = {
    "touchpoints": "SELECT count(), uniqExact(event_id), round(sum(ifNull(sentiment, 0)), 3) FROM cx.v_touchpoints",
    "reviews": "SELECT count(), countIf(positive), round(sum(sentiment), 3) FROM cx.v_reviews",
    "responses": "SELECT count(), sum(wait_ms), countIf(within_sla) FROM cx.v_responses",
    "cases": "SELECT count(), sum(handoffs), sum(promises_kept), countIf(follow_up_done) FROM cx.v_cases",
    # Recoveries' whole waits: a breach's wait-so-far depends on the wall clock when detected live.
    "alerts": "SELECT count(), countIf(status = 'breach'), sumIf(waited_ms, status = 'recovery') FROM cx.v_alerts",
    "dlq": "SELECT count(), uniqExact(reason) FROM cx.v_dlq",
}

# The dashboards' rollups, at both grains: every measure, and the merged quantile states.
ROLLUP_FIGURES = {
    f"{subject}_{grain}": sql.format(grain=grain)
    for grain in ("1m", "1h")
    for subject, sql in {
        "touchpoints": "SELECT count(), sum(touchpoints), sum(handoffs), sum(promises), sum(follow_ups), round(sum(sentiment_sum), 3) FROM cx.rollup_touchpoints_{grain}",
        "reviews": "SELECT count(), sum(reviews), sum(positive), sum(rating_sum), round(sum(sentiment_sum), 3) FROM cx.rollup_reviews_{grain}",
        "responses": "SELECT kind, sum(replies), sum(within_sla), sum(with_limit), sum(wait_ms_sum), quantilesDeterministicMerge(0.5, 0.9, 0.99)(wait_ms) FROM cx.rollup_responses_{grain} GROUP BY kind ORDER BY kind",
        "alerts": "SELECT rule, sum(breaches), sum(recoveries), sum(recovered_wait_ms_sum) FROM cx.rollup_alerts_{grain} GROUP BY rule ORDER BY rule",
        "cases": "SELECT sum(cases), sum(resolved), quantilesDeterministicMerge(0.5, 0.9, 0.99)(resolution_ms), sum(promises_kept), sum(follow_ups_done), sum(turned_around) FROM cx.rollup_cases_{grain}",
    }.items()
} | {"terms": "SELECT term_kind, polarity, count(), sum(mentions) FROM cx.rollup_review_terms_1h GROUP BY ALL ORDER BY ALL"}


def figures(store) -> dict:
    """Every view's and rollup's figures, rollups rebuilt first."""
    refresh_rollups(store)
    figures = {name: store.query(sql)[1] for name, sql in (FIGURES | ROLLUP_FIGURES).items()}
    # Arrival delay is a measure of when rows landed, not of the events: a redelivery lands later.
    arrival = panel("cx-latency", "source_lateness").title
    return figures | {title: rows for title, (_, rows) in summary_sections(store) if title != arrival}


def test_landing_twice_gives_the_figures_of_one_landing(clean_store):
    rows = stream_rows()
    for table, batch in rows.items():
        clean_store.insert(table, batch)
    once = figures(clean_store)
    for table, batch in rows.items():  # every row again: redelivery after a crash, or a replay
        clean_store.insert(table, batch)
    assert figures(clean_store) == once
    # The raw tables do hold the copies (before a merge): the views are what collapse them.
    assert clean_store.query("SELECT count() FROM cx.touchpoints")[1][0][0] == 2 * once["touchpoints"][0][0]
    # ... and the rollups had something to count, at every grain.
    assert all(once[f"{s}_{g}"][0][1] for s in ("touchpoints", "reviews", "responses", "alerts") for g in ("1m", "1h"))
    empty_data_tables(clean_store)


def test_every_view_and_rollup_column_is_explained(store):
    _, rows = store.query(
        "SELECT table, name FROM system.columns WHERE database = 'cx' AND (startsWith(table, 'v_') OR startsWith(table, 'rollup_'))"
        " AND NOT endsWith(table, '_refresh') AND comment = ''"
    )
    assert rows == []
    _, views = store.query("SELECT name FROM system.tables WHERE database = 'cx' AND engine = 'View' ORDER BY name")
    assert [v for (v,) in views] == [
        "v_alert_deliveries", "v_alerts", "v_cases", "v_dlq", "v_late_events", "v_responses", "v_reviews",
        "v_source_lateness", "v_touchpoints",
    ]


def test_rollup_channels_are_the_event_contract_channels(store):
    _, rows = store.query(
        "SELECT DISTINCT type FROM system.columns WHERE database = 'cx' AND startsWith(table, 'rollup_')"
        " AND NOT endsWith(table, '_refresh') AND name = 'channel'"
    )
    assert rows == [("Enum8(" + ", ".join(f"'{c.value}' = {i}" for i, c in enumerate(Channel, 1)) + ")",)]


def test_raw_text_retention_follows_the_setting(tmp_path):
    """Default 180 days on every raw text column; a new setting replaces it, an equal one changes nothing."""
    code = (
        "from pipeline.config import Settings; from pipeline.store import open_store;"
        "from pipeline.store.retention import apply_text_retention, text_retention;"
        "from pipeline.store.tables import RAW_TEXT_COLUMNS;"
        f"s = open_store(Settings(data_dir=r'{tmp_path}'));"
        "print([text_retention(s, t, c) for t, c, _ in RAW_TEXT_COLUMNS]);"
        "print(apply_text_retention(s, 30)); print(apply_text_retention(s, 30));"
        "print([text_retention(s, t, c) for t, c, _ in RAW_TEXT_COLUMNS])"
    )
    # Its own process: chdb opens one data directory per process, and the session store is open here.
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [
        "[180, 180, 180, 180]",
        "['cx.touchpoints.text', 'cx.reviews.text', 'cx.reviews.tokens', 'cx.dlq.payload']",
        "[]",
        "[30, 30, 30, 30]",
    ]
