"""Generate cases across all channels, with waits drawn per channel (slow tail), and reviews, with a
contact centre's daily and weekly rhythm and an incident or two.

Deterministic: the same seed, size and start give the same lines, byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pipeline.generate import phrases

CST = timezone(timedelta(hours=8))
DEFAULT_START = datetime(2026, 11, 2, 8, 0, tzinfo=CST)

# Channel mix and (median seconds, tail probability, tail multiplier) for the first agent reply.
# Tuned so that roughly 5-10% of first replies miss the default SLA (policy: pipeline/sla).
CHANNELS = {
    "chat": (0.30, (18, 0.06, 5)),
    "phone": (0.22, (9, 0.05, 5)),
    "app": (0.15, (20, 0.06, 5)),
    "email": (0.10, (1.5 * 3600, 0.08, 4)),
    "social": (0.10, (6 * 60, 0.06, 6)),
    "store": (0.08, (70, 0.06, 6)),
    "field": (0.05, (3 * 3600, 0.10, 4)),
}
# Case arrivals by local hour (Asia/Shanghai), against the busiest hour: busy mornings, a lunch dip,
# evening app and social traffic, quiet nights; weekends are lighter.
HOURLY = (0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.35, 0.70, 1.00, 0.95, 0.85,
          0.60, 0.75, 0.85, 0.80, 0.75, 0.65, 0.55, 0.60, 0.65, 0.55, 0.35, 0.15)  # fmt: skip
WEEKEND = 0.55
MEAN_RHYTHM = sum(HOURLY) / 24 * (5 + 2 * WEEKEND) / 7
EVENTS_PER_CASE = 12.5  # touchpoints and reviews a case brings, on average
INCIDENT = timedelta(hours=3)  # an incident: more contacts, and reviews complaining about one aspect
# Channel weights after office hours and on weekends: people write from the app and social media.
OFF_HOURS = {"chat": 1.0, "phone": 0.5, "app": 2.0, "email": 0.5, "social": 2.0, "store": 0.6, "field": 0.3}
# The system each channel's events come from (`attrs.source`): lateness is measured per source.
SOURCES = {
    "phone": "telephony", "chat": "chat-gateway", "app": "chat-gateway", "email": "mail",
    "social": "social-listening", "store": "crm", "field": "field-app",
}  # fmt: skip
DEPARTMENTS = ["客服中心", "售后服务部", "技术支持", "门店", "投诉处理组", "上门维修"]
PRIORITIES = (["normal"] * 7) + (["high"] * 2) + ["low"]


@dataclass
class Workload:
    """What `generate` produced: the lines and how many of each sort."""

    lines: list[str]
    touchpoints: int = 0
    reviews: int = 0
    malformed: int = 0


def _wait(rng: random.Random, channel: str, scale: float = 1.0) -> float:
    median, tail_p, tail_mult = CHANNELS[channel][1]
    wait = rng.lognormvariate(0, 0.6) * median * scale
    if rng.random() < tail_p:
        wait *= tail_mult * (1 + rng.random())
    return max(1.0, wait)


def _rhythm(at: datetime) -> float:
    """How busy the contact centre is at `at`, against its busiest hour."""
    local = at.astimezone(CST)
    return HOURLY[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0)


def _office_hours(at: datetime) -> bool:
    local = at.astimezone(CST)
    return local.weekday() < 5 and 9 <= local.hour < 18


def _review_text(rng: random.Random, positive: bool, about: str | None = None) -> str:
    bank = phrases.PRAISE if positive else phrases.COMPLAINT
    aspects = rng.sample(sorted(bank), k=rng.choice([1, 2, 2, 3]))
    if about is not None and about not in aspects:
        aspects[0] = about
    parts = [rng.choice(bank[a]) for a in aspects]
    if rng.random() < 0.2:  # mixed feelings: one clause of the other polarity
        other = phrases.COMPLAINT if positive else phrases.PRAISE
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(other[rng.choice(sorted(other))]))
    text = rng.choice(phrases.OPENERS) + "，".join(parts)
    closer = rng.choice(phrases.CLOSERS)
    if rng.random() < 0.05:
        text += f"，有问题打我电话1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}"
    return text + closer


def _case(rng: random.Random, n: int, at: datetime, incident: str | None = None) -> tuple[list[dict], dict | None]:
    office = _office_hours(at)
    weights = [c[0] * (1.0 if office else OFF_HOURS[name]) for name, c in CHANNELS.items()]
    channel = rng.choices(list(CHANNELS), weights=weights)[0]
    case_id = f"C{n:07d}"
    customer = f"U{rng.randint(1, max(50, n // 2)):06d}"
    department = rng.choice(DEPARTMENTS)
    agent = f"A{rng.randint(1, 60):03d}"
    priority = rng.choice(PRIORITIES)
    events: list[dict] = []
    t = at

    def emit(kind: str, actor: str, **extra) -> None:
        event = {
            "event_id": f"{case_id}-{len(events) + 1:02d}",
            "case_id": case_id,
            "customer_id": customer,
            "channel": channel,
            "kind": kind,
            "actor": actor,
            "agent_id": agent if actor == "agent" else None,
            "department": department,
            "ts": t.isoformat(timespec="milliseconds"),
            "priority": priority,
        }
        event.update(extra)
        event["attrs"] = {**extra.get("attrs", {}), "source": SOURCES[channel]}
        events.append({k: v for k, v in event.items() if v is not None})

    emit("contact_opened", "customer")
    t += timedelta(seconds=rng.uniform(1, 20))
    emit("customer_message", "customer", text=rng.choice(phrases.CUSTOMER_MESSAGES))
    for turn in range(rng.choice([1, 1, 2, 3])):
        t += timedelta(seconds=_wait(rng, channel, 1.0 if turn == 0 else 1.5))
        emit("agent_reply", "agent", text=rng.choice(phrases.AGENT_REPLIES))
        if rng.random() < 0.6:
            t += timedelta(seconds=rng.uniform(10, 300))
            emit("customer_message", "customer", text=rng.choice(phrases.CUSTOMER_MESSAGES))
    if events[-1]["kind"] == "customer_message":
        t += timedelta(seconds=_wait(rng, channel, 1.5))
        emit("agent_reply", "agent", text=rng.choice(phrases.AGENT_REPLIES))
    # Transfers: most cases stay with one desk; a few bounce around (the seeds' 你推我，我推你).
    for _ in range(rng.choices([0, 1, 2, 3, 4], weights=[70, 15, 8, 5, 2])[0]):
        t += timedelta(minutes=rng.uniform(1, 30))
        department = rng.choice(DEPARTMENTS)
        emit("transfer", "agent", attrs={"to_department": department})
    promised = None
    if rng.random() < 0.35:
        promised = t + timedelta(hours=rng.choice([4, 24, 48, 72]))
        emit("promise", "agent", promised_by=promised.isoformat(timespec="milliseconds"), text="我们会在约定时间前处理好")
    if rng.random() < 0.05:
        return events, None  # still open: nobody resolved it
    resolve_after = {"high": 1.2, "normal": 5, "low": 15}[priority] * 3600 * rng.lognormvariate(0, 0.8)
    if promised is not None:
        window = (promised - t).total_seconds()
        if rng.random() < 0.12:
            resolve_after = window * rng.uniform(1.1, 2.0)  # a broken promise
        else:
            resolve_after = min(resolve_after, window * rng.uniform(0.3, 0.95))
    t += timedelta(seconds=resolve_after)
    emit("resolved", "agent")
    if rng.random() < 0.93:  # seed 004: follow-up rate 100% is the goal; some slip
        t += timedelta(hours=rng.choices([2, 20, 40, 60, 100], weights=[30, 30, 22, 12, 6])[0] * rng.uniform(0.5, 1.2))
        emit("follow_up", "agent", text="回访：请问问题解决了吗，您对服务满意吗？")
    if rng.random() < 0.05:
        t += timedelta(days=rng.uniform(1, 5))
        emit("reopened", "customer")
        emit("resolved", "agent")
    t += timedelta(minutes=rng.uniform(1, 60))
    emit("closed", "system")
    review = None
    if rng.random() < 0.5:
        slow = any(e["kind"] == "transfer" for e in events[2:]) or (promised is not None and t > promised)
        positive = rng.random() < (0.45 if slow else 0.85) * (0.5 if incident else 1.0)
        rating = rng.choice([4, 5, 5]) if positive else rng.choice([1, 2, 3])
        review = {
            "review_id": f"R{n:07d}",
            "customer_id": customer,
            "case_id": case_id,
            "channel": channel,
            "rating": rating,
            "text": _review_text(rng, positive, None if positive else incident),
            "ts": (t + timedelta(hours=rng.uniform(1, 48))).isoformat(timespec="milliseconds"),
            "source": rng.choice(["app_store", "survey", "weibo", "dianping"]),
        }
    return events, review


MALFORMED = [
    lambda rng, i: "{not json at all",
    lambda rng, i: json.dumps({"event_id": f"BAD{i}", "case_id": "C?", "kind": "customer_message"}),
    lambda rng, i: json.dumps({"event_id": f"BAD{i}", "case_id": f"C{i}", "customer_id": "U1", "channel": "fax",
                               "kind": "agent_reply", "actor": "agent", "ts": "2026-11-02T08:00:00+08:00"}),
    lambda rng, i: json.dumps({"event_id": f"BAD{i}", "case_id": f"C{i}", "customer_id": "U1", "channel": "chat",
                               "kind": "agent_reply", "actor": "agent", "ts": "2026-11-02 08:00:00"}),
    lambda rng, i: json.dumps({"review_id": f"BADR{i}", "customer_id": "U1", "channel": "app", "rating": 9,
                               "text": "还行", "ts": "2026-11-02T08:00:00+08:00"}),
    lambda rng, i: json.dumps(["an", "array"]),
]


def generate(
    events: int,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    malformed: int = 0,
    until: datetime | None = None,
    lag: Mapping[str, timedelta] | None = None,
) -> Workload:
    """`events` valid lines (touchpoints + reviews) plus `malformed` bad ones, in the order they arrive:
    event time, plus the lag of a source that lags (`lag`: source -> how late its events arrive, as a
    field-service app that syncs every quarter of an hour).

    With `until`, what would happen (or arrive) after it is left out (cases still open, follow-ups
    still due), so fewer lines may come back: a live-looking feed that ends now."""
    rng = random.Random(seed)
    timed: list[tuple[str, int, dict]] = []
    n = 0
    at = start
    # Cases arrive as a Poisson stream shaped by the hour and the weekday (thinning a stream at the
    # busiest hour's rate); with `until`, spread over the window (its last tenth left for the latest
    # cases to unfold), else at one case per 20 s on average. About 12 touchpoints each.
    if until is not None:
        window = max(timedelta(hours=1), until - start) * 0.9
        peak_gap = window.total_seconds() * MEAN_RHYTHM / max(1.0, events / EVENTS_PER_CASE)
        span = window
    else:
        peak_gap = 20 * MEAN_RHYTHM
        span = timedelta(seconds=20 * events / EVENTS_PER_CASE)
    # An incident or two: three hours of more contacts and reviews complaining about one aspect.
    incidents = [
        (start + span * rng.uniform(0.2, 0.9), rng.choice(sorted(phrases.COMPLAINT)))
        for _ in range(1 if span < timedelta(days=2) else 2)
    ]
    while len(timed) < events:
        at += timedelta(seconds=rng.expovariate(1 / peak_gap))
        incident = next((aspect for begin, aspect in incidents if begin <= at < begin + INCIDENT), None)
        if rng.random() > min(1.0, _rhythm(at) * (1.6 if incident else 1.0)):
            continue
        n += 1
        case_events, review = _case(rng, n, at, incident)
        timed.extend((e["ts"], len(timed) + i, e) for i, e in enumerate(case_events))
        if review is not None:
            timed.append((review["ts"], len(timed), review))
        if rng.random() < (0.6 if incident else 0.3):  # app-store style reviews that belong to no case
            positive = rng.random() < (0.3 if incident else 0.75)
            standalone = {
                "review_id": f"RS{n:07d}",
                "customer_id": f"U{rng.randint(1, 999999):06d}",
                "channel": rng.choice(["app", "social", "store"]),
                "rating": rng.choice([4, 5]) if positive else rng.choice([1, 2]),
                "text": _review_text(rng, positive, None if positive else incident),
                "ts": (at + timedelta(minutes=rng.uniform(0, 60))).isoformat(timespec="milliseconds"),
                "source": rng.choice(["app_store", "weibo", "dianping"]),
            }
            timed.append((standalone["ts"], len(timed), standalone))
    timed = timed[:events]
    late = lag or {}

    def arrival(event: dict) -> datetime:
        source = (event.get("attrs") or {}).get("source")
        return datetime.fromisoformat(event["ts"]) + late.get(source, timedelta(0))

    arrives = [(arrival(e), i, e) for _, i, e in timed]
    if until is not None:
        arrives = [a for a in arrives if a[0] <= until]
    arrives.sort(key=lambda x: (x[0], x[1]))
    timed = [(e["ts"], i, e) for _, i, e in arrives]
    lines = [json.dumps(e, ensure_ascii=False) for _, _, e in timed]
    reviews = sum(1 for _, _, e in timed if "review_id" in e)
    bad_rng = random.Random(seed * 7919 + 1)
    for i in range(malformed):
        lines.insert(bad_rng.randrange(len(lines) + 1), MALFORMED[i % len(MALFORMED)](bad_rng, i))
    return Workload(lines=lines, touchpoints=len(timed) - reviews, reviews=reviews, malformed=malformed)
