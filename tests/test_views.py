"""Analyst views show each event, review, response, case, alert and delivery once: the same rows
landed twice (redelivery, a replay) give the same figures as one clean landing."""

from datetime import UTC, datetime

from pipeline.cases import replay
from pipeline.events import Touchpoint
from pipeline.generate import generate
from pipeline.landing import Message, land_reviews, land_touchpoints, read_case_event
from pipeline.sla import load_policy
from pipeline.store import empty_data_tables
from pipeline.summary import alert_summary, channel_summary

FIGURES = {
    "touchpoints": "SELECT count(), uniqExact(event_id), round(sum(ifNull(sentiment, 0)), 3) FROM cx.v_touchpoints",
    "reviews": "SELECT count(), countIf(positive), round(avg(sentiment), 4) FROM cx.v_reviews",
    "responses": "SELECT count(), sum(wait_ms), countIf(within_sla) FROM cx.v_responses",
    "cases": "SELECT count(), sum(handoffs), sum(promises_kept), countIf(follow_up_done) FROM cx.v_cases",
    "alerts": "SELECT count(), countIf(status = 'breach'), sum(waited_ms) FROM cx.v_alerts",
    "dlq": "SELECT count(), uniqExact(reason) FROM cx.v_dlq",
}


def _rows():
    workload = generate(1500, seed=5, malformed=10)
    touch = [Message(ln.encode(), "cx.touchpoints", 0, i) for i, ln in enumerate(workload.lines) if '"review_id"' not in ln]
    reviews = [Message(ln.encode(), "cx.reviews", 0, i) for i, ln in enumerate(workload.lines) if '"review_id"' in ln]
    landed = [land_touchpoints(touch), land_reviews(reviews)]
    rows: dict[str, list[dict]] = {}
    for landing in landed:
        for table, batch in landing.rows.items():
            rows.setdefault(table, []).extend(batch)
    events: list[Touchpoint] = []
    sentiments = {}
    for _, value in landed[0].case_feed:
        event, sentiment = read_case_event(value)
        events.append(event)
        if sentiment is not None:
            sentiments[event.event_id] = sentiment
    steps = replay(events, load_policy(), sentiments, until=datetime(2026, 11, 20, tzinfo=UTC))
    rows["cx.responses"] = [r.row() for s in steps for r in s.responses]
    rows["cx.alerts"] = [a.row() for s in steps for a in s.alerts]
    rows["cx.cases"] = [s.case for s in steps if s.case is not None]
    assert rows["cx.alerts"] and rows["cx.responses"] and rows["cx.dlq"]
    return rows


def _figures(store):
    return {name: store.query(sql)[1] for name, sql in FIGURES.items()} | {
        "channel summary": channel_summary(store)[1],
        "alert summary": alert_summary(store)[1],
    }


def test_landing_twice_gives_the_figures_of_one_landing(clean_store):
    rows = _rows()
    for table, batch in rows.items():
        clean_store.insert(table, batch)
    once = _figures(clean_store)
    for table, batch in rows.items():  # every row again: redelivery after a crash, or a replay
        clean_store.insert(table, batch)
    assert _figures(clean_store) == once
    # The raw tables do hold the copies (before a merge): the views are what collapse them.
    assert clean_store.query("SELECT count() FROM cx.touchpoints")[1][0][0] == 2 * once["touchpoints"][0][0]
    empty_data_tables(clean_store)


def test_every_view_column_is_explained(store):
    _, rows = store.query(
        "SELECT table, name FROM system.columns WHERE database = 'cx' AND startsWith(table, 'v_') AND comment = ''"
    )
    assert rows == []
    _, views = store.query("SELECT name FROM system.tables WHERE database = 'cx' AND engine = 'View' ORDER BY name")
    assert [v for (v,) in views] == ["v_alert_deliveries", "v_alerts", "v_cases", "v_dlq", "v_responses", "v_reviews", "v_touchpoints"]
