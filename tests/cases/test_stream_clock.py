"""The auto clock: each partition replays by its own watermark until it is live or idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.cases.book import StreamClock
from pipeline.cases.clock import InputMark, InputMarks, LogEnds, Watermark
from pipeline.cases.rows import AHEAD_OF_WALL_CLOCK, FAR_AHEAD

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _clock() -> tuple[StreamClock, Ticker]:
    ticker = Ticker()
    clock = StreamClock("auto", lateness=timedelta(seconds=30), wall=lambda: NOW, monotonic=ticker)
    clock.own({0, 1})
    return clock, ticker


def test_a_partition_reaching_today_does_not_make_another_partitions_replay_live():
    clock, ticker = _clock()
    clock.observe(0, NOW - timedelta(seconds=10))  # partition 0 caught up with today
    clock.observe(1, NOW - timedelta(days=20))  # partition 1 still replays last month
    ticker.t += 1
    assert clock.live(0) and clock.now(0) == NOW - timedelta(seconds=30), "live: the wall clock less the lateness"
    assert not clock.live(1)
    assert clock.now(1) == NOW - timedelta(days=20, seconds=30)


def test_a_partition_goes_live_when_idle_and_new_partitions_wait_their_grace():
    clock, ticker = _clock()
    clock.observe(0, NOW - timedelta(days=20))
    ticker.t += 4
    assert not clock.live(0) and not clock.live(1)
    ticker.t += 1.5  # 5.5 s without an event on partition 0: the replay is over
    assert clock.live(0)
    assert not clock.live(1), "partition 1 never had an event: it waits the startup grace"
    ticker.t += 25
    assert clock.live(1)
    # A partition given to this worker later waits its own grace from then, not from the start.
    clock.own({0, 1, 2})
    assert not clock.live(2)
    ticker.t += 30
    assert clock.live(2)


def test_partitions_handed_away_are_forgotten_and_start_afresh_when_they_return():
    clock, ticker = _clock()
    clock.observe(0, NOW - timedelta(days=3))
    clock.observe(1, NOW - timedelta(days=1))
    ticker.t += 60
    assert clock.live(1)
    clock.own({0})
    assert clock.watermark(1) is None
    clock.own({0, 1})  # back again, maybe with a backlog another worker left
    assert not clock.live(1) and clock.now(1) is None
    assert clock.watermark(0) == NOW - timedelta(days=3, seconds=30), "kept partitions keep their watermark"


def test_fixed_modes_ignore_liveness():
    ticker = Ticker()
    event = StreamClock("event", lateness=timedelta(0), wall=lambda: NOW, monotonic=ticker)
    wall = StreamClock("wall", wall=lambda: NOW, monotonic=ticker)
    event.observe(0, NOW - timedelta(days=1))
    wall.observe(0, NOW - timedelta(days=1))
    ticker.t += 3600
    assert event.now(0) == NOW - timedelta(days=1)
    assert wall.now(0) == NOW - wall.lateness


def test_a_partition_with_unread_events_is_never_idle_however_long_the_stream_stalls():
    # A replay the stream stopped delivering for a while (a full buffer, a slow write) is not over:
    # judging its open cases by today's clock would raise breaches its next events answer.
    ticker = Ticker()
    unread = {0}
    clock = StreamClock("auto", wall=lambda: NOW, monotonic=ticker, behind=lambda p: p in unread)
    clock.own({0, 1})
    clock.observe(0, NOW - timedelta(days=20))
    clock.observe(1, NOW - timedelta(days=20))
    ticker.t += 60
    assert not clock.live(0) and clock.now(0) == NOW - timedelta(days=20, seconds=30)
    assert clock.live(1), "nothing unread on partition 1: its replay is over"
    unread.clear()  # the stream caught up: partition 0 is idle now
    assert clock.live(0)
    clock.own({0, 1, 2})
    unread.add(2)
    ticker.t += 60
    assert not clock.live(2), "a new partition with a backlog is not idle after its grace either"


def test_a_backlog_complete_long_ago_is_idle_as_soon_as_it_is_applied():
    # The case process applies the last of a replay 9 s after the broker received it: nothing has
    # arrived since, so the replay is over now, not idle_after after the apply.
    ticker = Ticker()
    still = {0: 9.0, 1: 2.0}
    unread: set[int] = set()
    clock = StreamClock("auto", wall=lambda: NOW, monotonic=ticker, behind=lambda p: p in unread, still=lambda p: still.get(p, 0.0))
    clock.own({0, 1})
    clock.observe(0, NOW - timedelta(days=20))
    clock.observe(1, NOW - timedelta(days=20))
    assert clock.live(0) and clock.now(0) == NOW - clock.lateness
    assert not clock.live(1), "an end still for 2 s: events may still be coming"
    ticker.t += 5
    assert clock.live(1), "5 s since its last event applied: idle as before"
    unread.add(0)
    assert not clock.live(0), "unread events: never idle, however still the end looked"


def test_log_end_stillness_counts_from_the_first_fetch_that_reported_the_end():
    ends = LogEnds()
    assert ends.still(0, 100, fetched_at=10.0) == 0.0
    assert ends.still(0, 100, fetched_at=12.5) == 2.5
    assert ends.still(0, 100, fetched_at=16.0) == 6.0
    assert ends.still(0, 130, fetched_at=16.5) == 0.0, "a new end: something arrived"
    assert ends.still(0, 130, fetched_at=17.0) == 0.5
    assert ends.still(1, 7, fetched_at=17.0) == 0.0, "partitions are counted apart"
    ends.forget({0})
    assert ends.still(0, 130, fetched_at=30.0) == 0.0, "a partition back from another worker starts afresh"


def test_an_input_partition_read_ahead_does_not_move_the_clock_of_the_others():
    # Landing reports, with the case feed, how far each input partition has been read: the case
    # clock is the minimum over the input partitions with events left to read.
    ticker = Ticker()
    clock = StreamClock("auto", lateness=timedelta(0), wall=lambda: NOW, monotonic=ticker)
    clock.own({0})
    day = NOW - timedelta(days=20)
    clock.observe(0, day + timedelta(hours=4))  # the case feed saw an event from input 1, 4 hours on
    clock.inputs(0, [InputMark("in:0", day, False), InputMark("in:1", day + timedelta(hours=4), False)])
    assert clock.now(0) == day, "input 0 is behind and has events left: it holds the clock"
    ticker.t += 3600
    assert not clock.live(0), "an input with events left to read is never idle"
    clock.inputs(0, [InputMark("in:0", None, False)])  # a new landing agent, not yet read: marks never go back
    assert clock.now(0) == day
    clock.inputs(0, [InputMark("in:0", day + timedelta(hours=1), True)])  # input 0 read to its end
    assert clock.watermark(0) == day + timedelta(hours=4), "idle inputs hold no one back"
    assert not clock.live(0), "input 1 still has events to read"
    clock.inputs(0, [InputMark("in:1", day + timedelta(hours=5), True)])
    assert clock.live(0) and clock.now(0) == NOW


def test_an_input_partition_with_events_left_and_no_mark_holds_the_clock():
    clock = StreamClock("event", lateness=timedelta(seconds=30), wall=lambda: NOW)
    clock.observe(0, NOW - timedelta(days=1))
    clock.inputs(0, [InputMark("in:0", NOW - timedelta(days=1), False), InputMark("in:1", None, False)])
    assert clock.now(0) is None


def test_one_event_stamped_far_ahead_does_not_move_the_mark_two_do():
    mark = Watermark(lateness=timedelta(0), jump=timedelta(hours=1))
    day = NOW - timedelta(days=2)
    assert mark.note(day) == "in_order"
    assert mark.note(day + timedelta(hours=8)) == "held", "a local time labelled UTC"
    assert mark.mark() == day
    assert mark.note(day + timedelta(minutes=5)) == "refuted" and mark.mark() == day + timedelta(minutes=5)
    assert mark.note(day + timedelta(hours=3)) == "held"
    assert mark.note(day + timedelta(hours=3, minutes=1)) == "confirmed", "a real gap: confirmed by the next event"
    assert mark.mark() == day + timedelta(hours=3)


def test_landing_marks_skip_stamps_from_the_future_and_report_far_jumps_not_gaps():
    marks = InputMarks(ahead=timedelta(minutes=5), jump=timedelta(hours=1), wall=lambda: NOW)
    base = NOW - timedelta(days=1)
    events = [
        ("in:0", base, "a"),
        ("in:0", NOW + timedelta(hours=8), "future"),
        ("in:0", base + timedelta(hours=8), "odd"),  # far ahead: held until the next event says
        ("in:1", base + timedelta(seconds=5), "b"),
        ("in:1", base + timedelta(hours=9), "night"),  # a gap in traffic ...
    ]
    assert marks.observe(events).odd == [("future", AHEAD_OF_WALL_CLOCK, NOW)]
    later = [("in:0", base + timedelta(seconds=30), "c"), ("in:1", base + timedelta(hours=9, seconds=5), "morning"),
             ("in:1", base + timedelta(hours=8, minutes=45), "lagging")]  # fmt: skip
    seen = marks.observe(later)
    assert seen.odd == [("odd", FAR_AHEAD, base)], "... confirmed by the next event; the odd one refuted"
    assert seen.behind == [timedelta(0), timedelta(0), timedelta(minutes=15)], "behind the mark (the confirmed jump) by 15 min"
    assert marks.report(["in:1", "in:0", "in:2"], idle=lambda s: s == "in:1") == [
        InputMark("in:0", base + timedelta(seconds=30), False),
        InputMark("in:1", base + timedelta(hours=9), True),
        InputMark("in:2", None, False),
    ]
