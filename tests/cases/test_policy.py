"""The SLA policy file: shipped defaults, $CX_SLA_POLICY, and refusing bad files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from pipeline.events import Channel, Priority
from pipeline.sla import Rule, SlaPolicy, load_policy, parse_duration


def test_defaults_match_the_issue():
    p = load_policy()
    first = {c.value: (lim.within, lim.clock) for c, lim in p.first_response.items()}
    assert first == {
        "chat": (timedelta(seconds=60), "calendar"),
        "app": (timedelta(seconds=60), "calendar"),
        "phone": (timedelta(seconds=30), "calendar"),
        "social": (timedelta(minutes=30), "calendar"),
        "store": (timedelta(minutes=5), "calendar"),
        "email": (timedelta(hours=4), "business"),
    }
    nxt = {c.value: (lim.within, lim.clock) for c, lim in p.next_reply.items()}
    assert nxt == {
        "chat": (timedelta(seconds=120), "calendar"),
        "app": (timedelta(seconds=120), "calendar"),
        "social": (timedelta(hours=1), "calendar"),
        "email": (timedelta(hours=8), "business"),
    }
    assert {k.value: v.within for k, v in p.resolution.items()} == {
        "high": timedelta(hours=4),
        "normal": timedelta(hours=24),
        "low": timedelta(hours=72),
    }
    assert all(v.clock == "calendar" for v in p.resolution.values())
    assert p.handoffs.max_transfers == 2 and p.follow_up.within == timedelta(days=3)
    assert p.lateness == timedelta(seconds=30)
    bh = p.business_hours
    assert (bh.timezone, str(bh.open), str(bh.close), sorted(bh.weekdays)) == (
        "Asia/Shanghai",
        "09:00:00",
        "18:00:00",
        [0, 1, 2, 3, 4],
    )
    assert p.response_limit(Rule.next_reply, Channel.phone) is None


def test_env_var_points_to_another_file(tmp_path, monkeypatch):
    from pipeline.config import Settings

    f = tmp_path / "strict.yaml"
    f.write_text(
        "first_response:\n  chat: {within: 20s}\nresolution:\n  high: {within: 2h}\n", encoding="utf-8"
    )
    monkeypatch.setenv("CX_SLA_POLICY", str(f))
    p = load_policy(Settings.from_env().sla_policy)
    assert p.first_response[Channel.chat].within == timedelta(seconds=20)
    assert p.resolution[Priority.high].within == timedelta(hours=2) and Priority.low not in p.resolution
    assert load_policy(tmp_path / "strict.yaml") == p


@pytest.mark.parametrize(
    "text",
    [
        "first_response:\n  fax: {within: 1m}\n",  # unknown channel
        "first_response:\n  chat: {within: -5s}\n",  # not positive
        "first_response:\n  chat: {within: 1m, clock: lunar}\n",  # unknown clock
        "handoffs: {max_transfers: 2, typo: 1}\n",  # unknown key
        "- just\n- a list\n",
    ],
)
def test_bad_policy_is_refused(tmp_path, text):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises((ValidationError, ValueError)):
        load_policy(f)


def test_durations():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(45) == timedelta(seconds=45)
    assert SlaPolicy.model_validate({"lateness": "PT10S"}).lateness == timedelta(seconds=10)
