"""`cx ingest` as a user runs it (a subprocess on loopback), a real HTTP client, the real local broker,
and a worker landing what it took: acknowledged events land once, malformed ones are rejected with
the worker's reason and reach `cx.dlq`, a wrong token produces nothing, a stalled broker gets 503 and
nothing is lost once the client sends again, and hostile bodies never get a 500."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from harness.processes import ingest_service
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
TOKENS = "crm=crm-secret-token,chat=chat-secret-token,chatwoot=chatwoot-secret-token"
CRM = {"Authorization": "Bearer crm-secret-token"}


def ingest(settings: Settings, **env: str):
    """`cx ingest --port 0` for `settings`; yields its base URL."""
    return ingest_service(settings.kafka_bootstrap, settings.topic_prefix, TOKENS, **env)


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
        st.fixed_dictionaries(  # Chatwoot-shaped
            {"event": st.sampled_from(["message_created", "conversation_created", "conversation_status_changed", "conversation_updated"])},
            optional={
                "id": st.one_of(st.integers(), st.text(max_size=200)), "message_type": st.sampled_from(["incoming", "outgoing", 7]),
                "created_at": st.one_of(st.integers(), st.floats(), st.text(max_size=30)), "content": st.text(max_size=50),
                "sender": st.fixed_dictionaries({"type": st.sampled_from(["user", "contact"]), "id": st.integers()}),
                "conversation": st.fixed_dictionaries({"id": st.integers(), "meta": st.just({"sender": {"id": 1}})}),
                "changed_attributes": st.just([{"status": {"previous_value": "resolved", "current_value": "open"}}]),
                "contact_inbox": st.fixed_dictionaries({"contact_id": st.integers()}), "updated_at": st.floats(),
            },
        ).map(lambda v: json.dumps(v).encode()),
    )
    with ingest(settings) as url, httpx.Client(base_url=url, headers=CRM, timeout=30) as client:

        @hsettings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=texts, path=st.sampled_from(["/v1/touchpoints", "/v1/reviews", "/v1/chatwoot"]))
        def post(body: bytes, path: str) -> None:
            answer = client.post(path, content=body)
            assert answer.status_code in (200, 429), (answer.status_code, answer.text)
            if answer.status_code == 200:
                verdicts = answer.json()["events"]
                if path == "/v1/chatwoot":  # one payload: a touchpoint, a rejection, or ignored
                    assert len(verdicts) == (0 if "ignored" in answer.json() else 1)
                else:
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


CHATWOOT = Path(__file__).parent / "data" / "chatwoot"


def _signed(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def test_chatwoot_webhooks_give_the_case_rows_and_breaches_their_touchpoints_give(settings, clean_store):
    """The fixtures of one Chatwoot conversation (opened, customer message, bot greeting, private note,
    agent reply, reassignment, resolution, reopen) through `POST /v1/chatwoot`, signed as Chatwoot signs
    them; beside them the touchpoints they map to, written out by hand, through `POST /v1/touchpoints`
    as another case. One worker lands both: the two cases' rows and alerts are the same."""
    ensure_topics(settings)
    payloads = json.loads((CHATWOOT / "conversation.json").read_text(encoding="utf-8"))
    contract = (CHATWOOT / "expected.jsonl").read_text(encoding="utf-8").replace('"chatwoot-', '"contract-')
    secret = "chatwoot-webhook-secret"
    with ingest(settings, CX_INGEST_CHATWOOT_SECRET=secret) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = []
        for payload in payloads:
            body = json.dumps(payload, ensure_ascii=False).encode()
            answers.append(client.post("/v1/chatwoot?token=chatwoot-secret-token", content=body, headers=_signed(secret, body)))
        body = json.dumps(payloads[1]).encode()
        unsigned = client.post("/v1/chatwoot?token=chatwoot-secret-token", content=body)
        forged = client.post("/v1/chatwoot?token=chatwoot-secret-token", content=body, headers=_signed("guess", body))
        broken = b'{"event": "message_created", "id": 9, "message_type": "incoming"}'
        unmapped = client.post("/v1/chatwoot?token=chatwoot-secret-token", content=broken, headers=_signed(secret, broken))
        by_hand = client.post("/v1/touchpoints", content=contract, headers=CRM)
    assert [a.status_code for a in answers] == [200] * len(payloads)
    assert sum(a.json()["accepted"] for a in answers) == 9 and sum("ignored" in a.json() for a in answers) == 5
    assert (unsigned.status_code, forged.status_code) == (401, 401) and "does not match" in forged.json()["error"]
    assert unmapped.status_code == 200 and "without its conversation" in unmapped.json()["events"][0]["reason"]
    assert by_hand.status_code == 200 and by_hand.json()["accepted"] == 9

    store, progress = clean_store, Progress()

    async def settled(app) -> bool:
        return progress.caught_up(9 + 1 + 9)

    asyncio.run(asyncio.wait_for(run_worker(settings, store, until=settled, poll=0.2, progress=progress), 180))
    columns, rows = store.query("SELECT * EXCEPT (case_id) FROM cx.v_cases WHERE case_id IN ('chatwoot-42', 'contract-42') ORDER BY case_id")
    cases = [{c: (v.replace("contract-", "chatwoot-") if isinstance(v, str) else v) for c, v in zip(columns, row)} for row in rows]
    assert len(cases) == 2 and cases[0] == cases[1]
    got = cases[0]
    assert (got["status"], got["handoffs"], got["reopens"], got["messages"], got["replies"]) == ("open", 1, 1, 3, 2)
    assert (got["agent_id"], got["department"], got["first_response_ms"]) == ("chatwoot-agent-12", "物流售后", 115_000)
    alerts = "SELECT case_id, rule, status, started_at, deadline, ended_at, limit_ms FROM cx.v_alerts WHERE case_id = {c:String} ORDER BY rule, status, deadline"
    chatwoot_alerts = [row[1:] for row in store.query(alerts, {"c": "chatwoot-42"})[1]]
    assert chatwoot_alerts == [row[1:] for row in store.query(alerts, {"c": "contract-42"})[1]]
    assert ("first_response", "breach") in {(r, s) for r, s, *_ in chatwoot_alerts}  # 115 s for a 60 s chat reply
    (_, dlq) = store.query("SELECT reason FROM cx.v_dlq")
    assert len(dlq) == 1  # the unmapped payload is kept, with the contract's reason
