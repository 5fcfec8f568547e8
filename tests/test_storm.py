"""A rebalance storm at CI size (`python -m bench.storm` runs 50,000 events and 10 changes): three
`cx worker` processes joining and leaving one group while generated events flow and a CPU burner
competes for the cores. Every event lands, nothing valid is dead-lettered, no event is landed by
two workers (a graceful leave commits what it took before its partitions move), no alert is decided
two ways, every breach reaches the subscriber, and no
partition goes without progress for more than 30 s while it has unread events."""

import pytest

from harness.storm import run_storm

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.slow]


def test_workers_joining_and_leaving_six_times_lose_double_and_stall_nothing(broker, tmp_path):
    result = run_storm(broker.bootstrap, tmp_path, events=15_000, changes=6, seed=5, feed_seconds=45.0)
    print(result)
    assert result.touchpoints == result.touchpoints_fed and result.reviews == result.reviews_fed
    assert result.dlq == result.invalid_fed  # only the malformed lines
    assert result.events_on_two_stores == 0 and result.alerts_decided_differently == 0
    assert result.alerts > 0 and result.breaches_untold == 0
    assert not result.stalls_over_30s, result.stalls_over_30s
