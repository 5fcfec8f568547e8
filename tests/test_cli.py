"""The `cx` command line as a user runs it: real processes, real embedded ClickHouse."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.produce import route

CX = str(Path(sys.executable).with_name("cx"))


def _cx(*args, data_dir: Path, timeout=60):
    env = {**os.environ, "CX_DATA_DIR": str(data_dir)}
    env.pop("CX_CLICKHOUSE_URL", None)
    return subprocess.run([CX, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_sql_prints_bare_value_last_for_single_values(tmp_path):
    result = _cx("sql", "SELECT 6 * 7", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "42"
    table = _cx("sql", "SELECT number, number * 2 AS twice FROM numbers(3)", data_dir=tmp_path)
    assert table.returncode == 0 and "twice" in table.stdout and "4" in table.stdout


def test_sql_reports_a_busy_store_plainly(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, chdb; c = chdb.connect(sys.argv[1]); c.query('SELECT 1'); print('held', flush=True); time.sleep(30)",
         str(tmp_path / "clickhouse")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _cx("sql", "SELECT 1", data_dir=tmp_path)
        assert result.returncode == 2
        assert "in use by another process" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_sql_errors_are_one_line_not_a_traceback(tmp_path):
    result = _cx("sql", "SELECT * FROM cx.no_such_table", data_dir=tmp_path)
    assert result.returncode == 2
    assert "UNKNOWN_TABLE" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "line, topic, valid",
    [
        ('{"review_id": "R1", "customer_id": "U1", "channel": "app", "text": "好", "ts": "2026-11-02T08:00:00Z"}', "cx.reviews", True),
        ('{"review_id": "R1", "customer_id": "U1"}', "cx.reviews", False),
        ('{"event_id": "E1"}', "cx.touchpoints", False),
        ("not json", "cx.touchpoints", False),
    ],
)
def test_produce_routes_lines_by_id(line, topic, valid):
    routed = route(line)
    assert (routed.topic, routed.valid) == (topic, valid)


def test_produce_keys_touchpoints_by_case():
    line = '{"event_id": "E1", "case_id": "C9", "customer_id": "U1", "channel": "chat", "kind": "contact_opened", "actor": "customer", "ts": "2026-11-02T08:00:00Z"}'
    routed = route(line)
    assert routed.key == b"C9" and routed.valid


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_broker_command_serves_until_stopped(tmp_path, sig):
    from pipeline.broker import free_port

    port = free_port()
    env = {**os.environ, "CX_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([CX, "broker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert f"127.0.0.1:{port}" in line
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        assert "cx.touchpoints" in admin.list_topics()
        admin.close()
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=15)
    time.sleep(0.2)
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_report_on_an_empty_store_prints_zeroes_and_writes_markdown(tmp_path):
    result = _cx("report", "--out", str(tmp_path / "r.md"), data_dir=tmp_path / "cx")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "r.md").read_text()
    assert "| touchpoints landed | 0 |" in text and "## Breaches by rule 各规则超时" in text


def test_demo_twice_counts_each_run_once(tmp_path):
    scenario = Path(__file__).parent / "data" / "scenarios" / "handoffs.jsonl"
    expected = len(scenario.read_text(encoding="utf-8").splitlines())
    for _ in range(2):
        run = _cx("demo", "--input", str(scenario), data_dir=tmp_path, timeout=180)
        assert run.returncode == 0, run.stderr[-2000:]
        count = _cx("sql", "SELECT count() FROM cx.touchpoints", data_dir=tmp_path)
        assert count.stdout.strip().splitlines()[-1] == str(expected)
    kept = _cx("demo", "--input", str(scenario), "--keep", data_dir=tmp_path, timeout=180)
    assert kept.returncode == 0, kept.stderr[-2000:]
    # The same events again: one row per event id after dedup, two copies before the merge.
    final = _cx("sql", "SELECT count() FROM cx.touchpoints FINAL", data_dir=tmp_path)
    assert final.stdout.strip().splitlines()[-1] == str(expected)


def _one_line_error(result, *words: str) -> None:
    """Exit 2 and one clear line on stderr, naming what to fix: no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in result.stderr and len(lines) <= 2, result.stderr[-2000:]
    assert all(w in result.stderr for w in words), result.stderr


def test_worker_without_a_broker_says_so_in_one_line(tmp_path):
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path), "CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run([CX, "worker"], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, "no Kafka broker answered at 127.0.0.1:1", "CX_KAFKA_BOOTSTRAP")


@pytest.mark.parametrize("command", [["worker"], ["demo", "--events", "10"], ["sla", "check"]])
def test_a_policy_with_a_typo_is_refused_before_anything_starts(tmp_path, command):
    policy = tmp_path / "policy.yaml"
    policy.write_text("first_response:\n  chat: {within: abc}\n", encoding="utf-8")
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx"), "CX_SLA_POLICY": str(policy), "CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run([CX, *command], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, str(policy), "first_response.chat.within", "30s, 5m")


def test_sla_check_prints_the_limits(tmp_path):
    result = _cx("sla", "check", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "first_response" in result.stdout and "chat" in result.stdout and "1m" in result.stdout
    assert "lateness 30s" in result.stdout
