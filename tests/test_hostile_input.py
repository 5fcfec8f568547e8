"""1,000 hostile inputs generated with hypothesis, each between two valid touchpoints: no crash, every
hostile one dead-lettered with a reason (its dead letter fits on the DLQ topic), the valid neighbours
land exactly as they would alone. Then the same inputs go through ClickHouse and the real stream.

Valid-but-nasty texts (SQL-injection strings, emoji, mixed scripts, NUL and control characters) are
not errors: they land, and come back from ClickHouse character for character."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from pipeline.landing import Message, land_touchpoints
from pipeline.produce import MAX_MESSAGE_BYTES
from pipeline.store.base import scalar
from streams.demo import feed_and_wait

TOPIC = "cx.touchpoints"
REQUIRED = ("event_id", "case_id", "customer_id", "channel", "kind", "actor", "ts")
INJECTIONS = (
    "'; DROP TABLE cx.touchpoints; --",
    "1' OR '1'='1",
    "{text:String}",
    "\\'); SELECT * FROM system.users; --",
    "Robert'); DROP DATABASE cx;--",
    "$__timeFilter(ts) ${channel:raw}",
)
NASTY = (
    "😡😡 客服呢？？👎🏻 等了一个小时",
    "退款 refund ОТМЕНА إلغاء 取消 キャンセル",
    "null\x00byte and \x07bell \x1b[31mred",
    "\u202eRTL override\u202c 零宽\u200b空格",
    "𠀀𪚥 (astral CJK) 🇨🇳",
)


def _event(event_id: str, text: str = "客服回复很快，谢谢") -> dict:
    return {
        "event_id": event_id, "case_id": f"K{event_id}", "customer_id": "U1", "channel": "chat",
        "kind": "customer_message", "actor": "customer", "ts": "2026-11-02T08:00:00+08:00", "text": text,
    }  # fmt: skip


def _bytes(doc: dict, **dumps) -> bytes:
    return json.dumps(doc, ensure_ascii=False, **dumps).encode("utf-8")


@st.composite
def hostile(draw) -> tuple[str, bytes]:
    """(what is wrong, the message bytes): every one must be refused by validation."""
    base = _event("X")
    kind = draw(st.sampled_from(
        ["bytes", "utf8", "json", "nul", "type", "missing", "extra", "huge", "past", "future", "surrogate", "deep", "wide", "enum"]
    ))  # fmt: skip
    if kind == "bytes":
        payload = draw(st.binary(min_size=1, max_size=300).filter(lambda b: b.strip() and not b.strip().startswith(b"{")))
    elif kind == "utf8":
        raw = _bytes(base)
        cut = draw(st.integers(1, len(raw) - 1))
        payload = raw[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])) + raw[cut:]
    elif kind == "json":
        raw = _bytes(base)
        payload = raw[: draw(st.integers(1, len(raw) - 1))] + draw(st.sampled_from([b"", b",", b"}}", b"'", b"NaN]"]))
    elif kind == "nul":
        raw = _bytes(base)
        cut = draw(st.sampled_from([1, raw.index(b'"event_id"') + 10]))
        payload = raw[:cut] + b"\x00" + raw[cut:]
    elif kind == "type":
        field, bad = draw(st.sampled_from([
            ("channel", 7), ("channel", ["chat"]), ("kind", None), ("ts", [2026]), ("ts", "yesterday"),
            ("text", 42), ("text", {"t": 1}), ("attrs", "vip"), ("attrs", [1]), ("priority", 3), ("event_id", ""),
            ("event_id", 12345), ("case_id", "C" * 129), ("agent_id", True), ("promised_by", "soon"),
        ]))  # fmt: skip
        payload = _bytes({**base, field: bad})
    elif kind == "missing":
        gone = draw(st.sampled_from(REQUIRED))
        payload = _bytes({k: v for k, v in base.items() if k != gone})
    elif kind == "extra":
        name = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in base and k.isprintable()))
        payload = _bytes({**base, name: draw(st.integers() | st.text(max_size=20))})
    elif kind == "huge":  # up to ~1 MB of text, over the 20,000-character limit
        payload = _bytes({**base, "text": "好" * draw(st.sampled_from([20_001, 120_000, 340_000]))})
    elif kind == "past":
        when = draw(st.datetimes(datetime(1, 1, 1), datetime(1999, 12, 31), timezones=st.just(UTC)))
        payload = _bytes({**base, "ts": when.isoformat()})
    elif kind == "future":
        soonest = datetime.now() + timedelta(days=2)
        when = draw(st.datetimes(soonest, datetime(9999, 12, 31), timezones=st.just(UTC)))
        payload = _bytes({**base, draw(st.sampled_from(["ts", "promised_by"])): when.replace(year=max(when.year, 2100)).isoformat()})
    elif kind == "surrogate":
        lone = draw(st.sampled_from(["\ud800", "\udfff", "a\udbffb"]))
        payload = json.dumps({**base, "text": lone}).encode("ascii")  # escaped: legal JSON, not storable text
    elif kind == "deep":
        depth = draw(st.sampled_from([9, 50, 900, 100_000]))
        payload = _bytes(base)[:-1] + b', "attrs": {"a": ' + b'[' * depth + b']' * depth + b"}}"
    elif kind == "wide":
        payload = _bytes({**base, "attrs": {f"k{i}": i for i in range(draw(st.integers(257, 2000)))}})
    else:
        payload = _bytes({**base, draw(st.sampled_from(["channel", "kind", "actor", "priority"])): draw(st.sampled_from(["fax", "CHAT", " ", "电话"]))})
    return kind, payload


nasty_text = st.sampled_from(INJECTIONS + NASTY) | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=80)


def test_hostile_inputs_are_dead_lettered_and_neighbours_are_unaffected(settings, clean_store):
    ids = itertools.count()
    corpus: list[tuple[str, bytes]] = []
    neighbours: list[dict] = []
    stored_text: dict[str, str] = {}  # event id -> the text its row carries (normalised, PII masked)

    @hsettings(max_examples=1000, derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])  # fmt: skip
    @given(hostile(), nasty_text)
    def check(case, text):
        kind, payload = case
        n = next(ids)
        before, after = _event(f"H{n}a", text), _event(f"H{n}b")
        batch = [Message(_bytes(before), TOPIC, 0, 3 * n), Message(payload, TOPIC, 0, 3 * n + 1), Message(_bytes(after), TOPIC, 0, 3 * n + 2)]
        landing = land_touchpoints(batch)
        assert [r["event_id"] for r in landing.rows["cx.touchpoints"]] == [f"H{n}a", f"H{n}b"], kind
        (dead,) = landing.rows["cx.dlq"]
        assert dead["kafka_offset"] == 3 * n + 1 and dead["reason"], kind
        # The dead letter goes on the DLQ topic as UTF-8 JSON under the broker's message limit.
        (message,) = landing.dead_letters
        assert len(json.dumps(message, ensure_ascii=False).encode("utf-8")) < MAX_MESSAGE_BYTES, kind
        # The valid neighbours land exactly as they would alone (nasty text and all).
        alone = land_touchpoints([batch[0], batch[2]])
        assert landing.rows["cx.touchpoints"] == alone.rows["cx.touchpoints"]
        corpus.append((kind, payload))
        neighbours.extend((before, after))
        stored_text.update((r["event_id"], r["text"]) for r in landing.rows["cx.touchpoints"])

    check()
    assert len(corpus) == 1000
    kinds = {k for k, _ in corpus}
    assert len(kinds) == 14, kinds

    # Through the real stream: each hostile message in the DLQ with a reason, every neighbour once,
    # nasty texts stored character for character. (Only a few of the ~1 MB ones: they cost time, not coverage.)
    huge = [p for k, p in corpus if k == "huge"]
    fed = [p for k, p in corpus if k != "huge"] + huge[:3]
    lines = [_bytes(e) for e in neighbours] + fed
    result = asyncio.run(feed_and_wait(settings, clean_store, lines, stall_timeout=120, until_live=False))
    assert result.fed.invalid == len(fed) and result.fed.touchpoints == len(neighbours) and not result.fed.too_large
    store = clean_store
    assert scalar(store, "SELECT count() FROM cx.dlq") == len(fed)
    assert scalar(store, "SELECT countIf(reason = '' OR payload = '') FROM cx.dlq") == 0
    assert scalar(store, "SELECT count() FROM cx.touchpoints") == len(neighbours)
    _, rows = store.query("SELECT event_id, text FROM cx.touchpoints")
    assert dict(rows) == stored_text
