"""Where the time goes: each stage of the per-event work, alone, on the same generated events.

Run: .venv/bin/python -m bench.stages [--events 20000] [--kafka] [--stream]

Each stage runs over all events with its input prepared by the stages before it, so its time is
its own. Printed as microseconds per event (over all events, whether or not the stage touches
each) and share of the total. The pure stages (no Kafka, no Faust, no ClickHouse) add up to our
own code's limit in events/s per core; `--kafka` adds a produce and a consume of the same lines
through the local broker, `--stream` the whole worker on them (`cx demo --input` without the
report), so the framework and I/O share is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.cases import CaseState
from pipeline.cases.state import CaseRecord
from pipeline.cases.book import CaseBook, StreamClock
from pipeline.events import Rejected, Review, Touchpoint, parse_review, parse_touchpoint
from pipeline.events.models import Kind
from pipeline.gc_tuning import collecting_less
from pipeline.generate import generate
from pipeline.identity import content_hash
from pipeline.landing import Message, case_event, read_case_event, review_row, scored_message, touchpoint_row
from pipeline.sla import load_policy
from pipeline.store.tables import REVIEWS, TOUCHPOINTS
from pipeline.text import aspects
from pipeline.text.analyze import KEYWORDS_TOP_K, AspectHit, TextResult
from pipeline.text.normalize import clean, split_at_cap
from pipeline.text.pii import mask_pii
from pipeline.text.segment import segmenter
from pipeline.text.sentiment import default_model

BATCH = 500
PURE = "pure"


class Stages:
    """Seconds per stage, in the order first timed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.kind: dict[str, str] = {}

    @contextmanager
    def time(self, name: str, kind: str = PURE):
        """Add the time of the block to stage `name`."""
        self.kind.setdefault(name, kind)
        started = time.perf_counter()
        yield
        self.seconds[name] += time.perf_counter() - started

    def total(self, kind: str | None = None) -> float:
        """Seconds of all stages (of one kind)."""
        return sum(s for n, s in self.seconds.items() if kind is None or self.kind[n] == kind)


def _each(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    return [fn(x) for x in items]


def pure_stages(lines: list[str], stages: Stages) -> dict[str, list[dict]]:
    """Run the per-event work stage by stage; return the rows per table for the insert stage."""
    seg, model = segmenter(), default_model()
    raw = [(ln.encode(), '"event_id"' in ln) for ln in lines]
    with stages.time("parse + validate"):
        parsed = [parse_touchpoint(v) if is_tp else parse_review(v) for v, is_tp in raw]
    events = [e for e in parsed if not isinstance(e, Rejected)]
    with stages.time("id fingerprint"):
        _each(content_hash, events)
    scored = [e for e in events if isinstance(e, Review) or (e.kind is Kind.customer_message and e.text)]
    with stages.time("normalise + mask"):
        masked = [split_at_cap(mask_pii(clean(e.text))) for e in scored]
    kept = [k for k, _ in masked]
    with stages.time("segment (jieba-rs + CX words)"):
        words = _each(seg.cut, kept)
    with stages.time("sentiment"):
        sentiment = [model.score(k) if k else 0.5 for k in kept]
    with stages.time("aspects"):
        hits = [aspects.detect(k, model.score, w) for k, w in zip(kept, words)]
    with stages.time("tokens + keywords"):
        tokens = _each(seg.content, words)
        keywords = [seg.keywords(t, KEYWORDS_TOP_K) for t in tokens]
    rows: dict[str, list[dict]] = defaultdict(list)
    with stages.time("rows + messages"):
        results = {}
        for e, k, (_, over), s, t, kw, h in zip(scored, kept, masked, sentiment, tokens, keywords, hits):
            label = "positive" if s >= 0.5 else "negative"
            aspect_hits = [AspectHit(aspect=a, polarity=p) for a, p in h]
            results[id(e)] = TextResult(text=k, sentiment=s, label=label, tokens=t, keywords=kw, aspects=aspect_hits, overflow=over)
        feed = []
        for n, e in enumerate(events):
            msg = Message(b"", "t", 0, n)
            result = results.get(id(e))
            if isinstance(e, Touchpoint):
                text = result.text if result else (mask_pii(e.text) if e.text else "")
                rows[TOUCHPOINTS].append(touchpoint_row(e, msg, text, result.sentiment if result else None))
                feed.append(case_event(e, result.sentiment if result else None))
                if result:
                    scored_message("touchpoint", e.event_id, e.case_id, e.ts, result)
            else:
                rows[REVIEWS].append(review_row(e, msg, result))
                scored_message("review", e.review_id, e.case_id, e.ts, result)
    with stages.time("case feed decode"):
        fed = _each(read_case_event, feed)
    states: dict[str, CaseState] = {}
    book = CaseBook(load_policy(), states.get, StreamClock("event"))
    for i in range(0, len(fed), BATCH):
        batch = [(hash(e.case_id) % 4, e) for e in fed[i : i + BATCH]]
        with stages.time("case update"):
            outcome = book.on_events(batch)
        with stages.time("changelog encode"):
            for _, (partition, state) in outcome.states.items():
                CaseRecord(partition=partition, state=state).dump()
        states.update({c: s for c, (_, s) in outcome.states.items()})
        book.commit(outcome)
    return rows


def insert_stage(rows: dict[str, list[dict]], stages: Stages, data_dir: Path) -> None:
    """The rows into embedded ClickHouse, one insert per table per batch."""
    from pipeline.config import Settings
    from pipeline.store import open_store

    store = open_store(Settings(data_dir=data_dir))
    for table, table_rows in rows.items():
        for i in range(0, len(table_rows), BATCH):
            with stages.time("ClickHouse insert (chdb)", "io"):
                store.insert(table, table_rows[i : i + BATCH])


def kafka_stages(lines: list[str], stages: Stages) -> None:
    """Produce the lines to the local broker as `cx produce` does, then consume them back."""
    from kafka import KafkaConsumer, TopicPartition

    from pipeline.broker import LocalBroker, ensure_topics
    from pipeline.broker.topics import TOUCHPOINTS as TP_TOPIC
    from pipeline.config import Settings
    from pipeline.produce import produce_lines

    with LocalBroker() as broker:
        settings = Settings(app_id="bench-stages").for_local_broker(broker.bootstrap)
        ensure_topics(settings)
        with stages.time("Kafka produce", "io"):
            fed = produce_lines(settings, lines)
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000)
        topic = settings.topic(TP_TOPIC)
        consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
        got = 0
        with stages.time("Kafka consume (touchpoints topic)", "io"):
            for _ in consumer:
                got += 1
                if got >= fed.touchpoints:
                    break
        consumer.close()


def stream_rate(lines: list[str], data_dir: Path) -> float:
    """Events/s of the whole worker on the lines (start-up included), as `cx demo --input` runs it.

    In a process of its own: the embedded store allows one data directory per process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_stream_rate, lines, data_dir).result()


def _stream_rate(lines: list[str], data_dir: Path) -> float:
    from pipeline.broker import LocalBroker
    from pipeline.config import Settings
    from pipeline.store import open_store
    from streams.demo import feed_and_wait

    with LocalBroker() as broker:
        settings = Settings(data_dir=data_dir, app_id="bench-stream").for_local_broker(broker.bootstrap)
        result = asyncio.run(feed_and_wait(settings, open_store(settings), lines, until_live=False))
    return len(lines) / result.seconds


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kafka", action="store_true", help="also time produce and consume through the local broker")
    parser.add_argument("--stream", action="store_true", help="also run the whole worker on the same events")
    args = parser.parse_args()

    lines = generate(args.events, seed=args.seed).lines
    segmenter().cut("预热")  # start-up (dictionaries, model) is not a stage
    default_model().score("预热")
    stages = Stages()
    with collecting_less():  # the worker's garbage-collection settings (pipeline.gc_tuning)
        rows = pure_stages(lines, stages)
    with tempfile.TemporaryDirectory() as tmp:
        insert_stage(rows, stages, Path(tmp) / "insert")
        if args.kafka:
            kafka_stages(lines, stages)
        stream = stream_rate(lines, Path(tmp) / "stream") if args.stream else None

    n = len(lines)
    total = stages.total()
    print(f"{n:,} generated events (seed {args.seed}); microseconds per event, each stage alone")
    print(f"{'stage':36} {'us/event':>9} {'share':>7}  kind")
    for name, seconds in stages.seconds.items():
        print(f"{name:36} {seconds / n * 1e6:9.1f} {seconds / total:6.1%}  {stages.kind[name]}")
    pure = stages.total(PURE)
    limit = n / pure
    cores = os.cpu_count() or 1
    print(f"{'pure per-event work':36} {pure / n * 1e6:9.1f} {pure / total:6.1%}  -> {limit:,.0f} events/s per core")
    print(f"our code's limit on {cores} cores: {limit * cores:,.0f} events/s; the stream must reach 80% of it (goal >= 5,000/s)")
    if stream is not None:
        print(f"whole worker, start-up included: {stream:,.0f} events/s = {stream / (limit * cores):.0%} of the "
              f"{cores}-core limit, {stream / limit:.0%} of one core's")  # fmt: skip

if __name__ == "__main__":
    main()
