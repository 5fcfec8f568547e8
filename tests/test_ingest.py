"""`cx ingest` as a user runs it (a subprocess on loopback), a real HTTP client, the real local broker,
and a worker landing what it took: acknowledged events land once, malformed ones are rejected with
the worker's reason and reach `cx.dlq`, a wrong token produces nothing, a stalled broker gets 503 and
nothing is lost once the client sends again, and hostile bodies never get a 500."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from harness.processes import CX
from pipeline.broker import LocalBroker, ensure_topics
from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.ingest.body import judge_body, split_body
from pipeline.ingest.service import Bucket, parse_tokens
from streams.progress import Progress
from streams.worker import run_worker
from tests.records import read_topic

pytestmark = pytest.mark.e2e
TOKENS = "crm=crm-secret-token,chat=chat-secret-token"
CRM = {"Authorization": "Bearer crm-secret-token"}


@contextmanager
def ingest(settings: Settings, **env: str):
    """`cx ingest --port 0` for `settings`; yields its base URL."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix,
        "CX_INGEST_TOKENS": TOKENS, "COLUMNS": "300", **env,
    }  # fmt: skip
    proc = subprocess.Popen([CX, "ingest", "--port", "0"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"cx ingest did not start: {line}{proc.stdout.read() if proc.poll() is not None else ''}"
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0, proc.stdout.read()
        finally:
            if proc.poll() is None:
                proc.kill()


def _lines(n: int, kind: str = "event_id") -> list[str]:
    lines = [ln for ln in generate(n * 2 if kind == "event_id" else n * 20 + 40, seed=21).lines if f'"{kind}"' in ln][:n]
    assert len(lines) == n
    return lines


def test_ndjson_events_are_acknowledged_then_land_once_and_malformed_ones_reach_the_dlq(settings, clean_store):
    ensure_topics(settings)
    lines = _lines(10_000)
    bad = ['{"event_id": "BAD-1", "case_id": "C1"}', "not json at all", '{"event_id": "BAD-2", "channel": "pigeon"}']
    with ingest(settings, CX_INGEST_RATE_PER_SECOND="1000000") as url, httpx.Client(base_url=url, headers=CRM, timeout=60) as client:
        answers = [client.post("/v1/touchpoints", content="\n".join(lines[i : i + 500])) for i in range(0, len(lines), 500)]
        mixed = client.post("/v1/touchpoints", content="\n".join(bad + lines[:2]), headers={"Content-Type": "application/x-ndjson"})
        metrics = client.get("/metrics").text
    assert all(a.status_code == 200 and a.json()["accepted"] == 500 for a in answers)
    assert mixed.status_code == 200 and mixed.json()["accepted"] == 2  # two repeated: the views show them once
    reasons = [e["reason"] for e in mixed.json()["events"] if e["status"] == "rejected"]
    assert len(reasons) == 3 and "not JSON" in reasons[1] and all(r for r in reasons)
    assert 'cx_ingest_events_total{source="crm",kind="touchpoints",verdict="accepted"} 10002' in metrics

    store = clean_store
    progress = Progress()

    async def landed(app) -> bool:
        return progress.landed >= len(lines) + len(bad) + 2

    asyncio.run(asyncio.wait_for(run_worker(settings, store, until=landed, poll=0.2, progress=progress), 240))
    (_, rows) = store.query("SELECT count(), uniqExact(event_id) FROM cx.v_touchpoints")
    assert rows[0] == (len(lines), len(lines))
    (_, dlq) = store.query("SELECT reason FROM cx.v_dlq ORDER BY kafka_offset")
    assert sorted(r[0] for r in dlq) == sorted(reasons)  # the worker's reasons, the ones the response gave


def test_a_wrong_token_is_refused_and_nothing_is_produced(settings):
    ensure_topics(settings)
    with ingest(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        body = "\n".join(_lines(5))
        assert client.post("/v1/touchpoints", content=body).status_code == 401
        assert client.post("/v1/touchpoints", content=body, headers={"Authorization": "Bearer crm-secret-tokeN"}).status_code == 401
        assert client.post("/v1/reviews?token=nope", content=body).status_code == 401
        ok = client.post("/v1/reviews?token=chat-secret-token", content="\n".join(_lines(3, "review_id")))
        assert ok.status_code == 200 and ok.json()["accepted"] == 3  # the query form works for senders without headers
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").json() == {"status": "ready"}
    assert read_topic(settings, settings.topic(TOUCHPOINTS), 1, timeout=3.0) == []
    assert len(read_topic(settings, settings.topic(REVIEWS), 3)) == 3


def test_over_the_body_limit_is_413_and_over_the_rate_is_429_with_retry_after(settings):
    ensure_topics(settings)
    env = {"CX_INGEST_MAX_BODY_BYTES": "20000", "CX_INGEST_RATE_PER_SECOND": "50"}
    with ingest(settings, **env) as url, httpx.Client(base_url=url, headers=CRM, timeout=30) as client:
        lines = _lines(120)
        assert client.post("/v1/touchpoints", content="\n".join(lines)).status_code == 413
        assert client.post("/v1/touchpoints", content="\n".join(lines[:40])).status_code == 200
        limited = client.post("/v1/touchpoints", content="\n".join(lines[40:80]))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        time.sleep(int(limited.headers["Retry-After"]))
        assert client.post("/v1/touchpoints", content="\n".join(lines[40:80])).status_code == 200


def test_a_stalled_broker_gets_503_and_nothing_is_lost_once_the_client_sends_again(tmp_path):
    with LocalBroker(log=tmp_path / "broker.log").start() as broker:
        settings = Settings(topic_prefix="stall.", data_dir=tmp_path / "cx").for_local_broker(broker.bootstrap)
        ensure_topics(settings)
        lines = _lines(300)
        with ingest(settings, CX_INGEST_ACK_TIMEOUT="3") as url, httpx.Client(base_url=url, headers=CRM, timeout=60) as client:
            os.kill(broker.pid, signal.SIGSTOP)
            try:
                stalled = client.post("/v1/touchpoints", content="\n".join(lines))
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            assert stalled.status_code == 503 and stalled.headers["Retry-After"]
            again = client.post("/v1/touchpoints", content="\n".join(lines))  # what a client does on 503
            assert again.status_code == 200 and again.json()["accepted"] == len(lines)
        got = read_topic(settings, settings.topic(TOUCHPOINTS), 2 * len(lines), timeout=15.0)  # the first try may have landed too
        assert {json.loads(r.value)["event_id"] for r in got} == {json.loads(ln)["event_id"] for ln in lines}


def test_hostile_bodies_never_get_a_500(settings):
    ensure_topics(settings)
    texts = st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        st.lists(st.dictionaries(st.sampled_from(["event_id", "case_id", "ts", "kind", "text", "x"]), st.one_of(st.none(), st.integers(), st.text(max_size=20)), max_size=6), max_size=5).map(lambda v: json.dumps(v).encode()),
    )
    with ingest(settings) as url, httpx.Client(base_url=url, headers=CRM, timeout=30) as client:

        @hsettings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=texts, path=st.sampled_from(["/v1/touchpoints", "/v1/reviews"]))
        def post(body: bytes, path: str) -> None:
            answer = client.post(path, content=body)
            assert answer.status_code in (200, 429), (answer.status_code, answer.text)
            if answer.status_code == 200:
                verdicts = answer.json()["events"]
                assert len(verdicts) == len(split_body(body))

        post()


def test_bodies_split_and_judge_as_the_worker_would():
    one = b'{"review_id": "R1"}'
    assert split_body(one) == [one]
    assert split_body(b"[" + one + b", " + one + b"]") == [one, one]
    assert split_body(one + b"\r\n\n" + one) == [one, one]
    (verdict,) = judge_body("reviews", one)
    assert not verdict.accepted and verdict.reason.startswith("invalid review")
    assert parse_tokens("crm=a, chat = b") == {"a": "crm", "b": "chat"}
    with pytest.raises(ValueError, match="'crm'"):
        parse_tokens("crm")
    bucket = Bucket(rate=10)
    assert bucket.take(10, now=bucket.at) == 0 and bucket.take(5, now=bucket.at) == pytest.approx(0.5)
    assert bucket.take(5, now=bucket.at + 0.5) == 0  # refilled at 10 a second
