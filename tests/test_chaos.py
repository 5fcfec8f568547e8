"""`cx worker` killed with SIGKILL at 6 random points while 12,000 events flow (the CI size of
`python -m bench.chaos`): every valid event once in the views, nothing lost to the DLQ, no breach
twice, every breach and recovery notified, at most one notice per kill sent twice (the documented
window: the endpoint accepted it, the worker died before writing the ledger row)."""

import pytest

from harness.chaos import run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.slow]


def test_six_kills_during_12000_events_lose_and_double_nothing(broker, tmp_path):
    result = run_chaos(broker.bootstrap, tmp_path, events=12_000, kills=6, seed=3)
    print(result)
    assert result.touchpoints == result.touchpoints_fed and result.duplicate_touchpoints == 0
    assert result.reviews == result.reviews_fed and result.duplicate_reviews == 0
    assert result.dlq == result.invalid_fed  # only the malformed lines: no valid event dead-lettered
    assert result.alerts > 0 and result.duplicate_alerts == 0
    assert result.alerts_without_notice == 0 and result.notices_without_alert == 0
    assert result.notices_delivered == result.alerts
    assert result.duplicate_notices <= result.kills
