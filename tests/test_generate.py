"""The workload generator: deterministic, realistic, contract-valid."""

import json
from collections import Counter

from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.events import Rejected, parse_review, parse_touchpoint
from pipeline.generate import generate


def test_same_seed_same_lines_other_seed_other_lines():
    a, b, c = generate(3000, seed=11), generate(3000, seed=11), generate(3000, seed=12)
    assert a.lines == b.lines
    assert a.lines != c.lines


def test_every_generated_line_is_valid_and_counts_add_up():
    w = generate(4000, seed=3, malformed=40)
    assert len(w.lines) == 4040 and w.touchpoints + w.reviews == 4000
    rejected = 0
    kinds, channels = Counter(), Counter()
    for line in w.lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            rejected += 1
            continue
        parsed = parse_review(line) if isinstance(data, dict) and "review_id" in data else parse_touchpoint(line)
        if isinstance(parsed, Rejected):
            rejected += 1
        elif hasattr(parsed, "kind"):
            kinds[parsed.kind.value] += 1
            channels[parsed.channel.value] += 1
    assert rejected == 40
    assert set(channels) == {"phone", "chat", "email", "app", "social", "store", "field"}
    for kind in ("contact_opened", "customer_message", "agent_reply", "transfer", "promise", "resolved", "follow_up", "closed"):
        assert kinds[kind] > 0, kind


def test_reviews_have_traditional_script_and_phone_numbers_sometimes():
    texts = [json.loads(ln)["text"] for ln in generate(20000, seed=5).lines if '"review_id"' in ln]
    assert len(texts) > 500
    assert any(any(ch in t for ch in "態處質") for t in texts)
    assert any(any(ch.isdigit() for ch in t) for t in texts)


def test_cli_generate_is_deterministic(tmp_path):
    runner = CliRunner()
    for name in ("a.jsonl", "b.jsonl"):
        result = runner.invoke(app, ["generate", "--events", "500", "--seed", "9", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 500


def test_generated_workload_breaches_every_rule_in_a_realistic_share():
    from collections import Counter
    from datetime import timedelta

    from pipeline.events import Touchpoint
    from pipeline.sla import load_policy
    from tests.cases.helpers import alerts_of, replay

    w = generate(15000, seed=13)
    events = [e for e in (parse_touchpoint(ln) for ln in w.lines if '"event_id"' in ln) if isinstance(e, Touchpoint)]
    cases = len({e.case_id for e in events})
    steps = replay(events, load_policy(), until=max(e.ts for e in events) + timedelta(days=4))
    breached = Counter()
    for rule, case_id in {(a.rule.value, a.case_id) for a in alerts_of(steps) if a.status == "breach"}:
        breached[rule] += 1
    shares = {rule: breached[rule] / cases for rule in
              ("first_response", "next_reply", "resolution", "handoffs", "promise", "follow_up")}  # fmt: skip
    for rule, share in shares.items():
        assert 0.01 <= share <= 0.25, (rule, share, shares)
