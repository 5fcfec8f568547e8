"""The `cx` command line as a user runs it: real processes, real embedded ClickHouse."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.produce import route

pytestmark = pytest.mark.slow

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


def test_demo_replaces_what_the_last_run_left_and_keep_adds_to_it(tmp_path):
    scenario = Path(__file__).parent / "data" / "scenarios" / "handoffs.jsonl"
    expected = len(scenario.read_text(encoding="utf-8").splitlines())

    def leave_a_row() -> None:
        stray = _cx("sql", "INSERT INTO cx.touchpoints (event_id, case_id, channel, kind, actor, ts) VALUES ('left-over', 'C-left-over', 'chat', 'contact_opened', 'customer', now64(3))", data_dir=tmp_path)
        assert stray.returncode == 0, stray.stderr

    def rows() -> int:
        return int(_cx("sql", "SELECT count() FROM cx.touchpoints FINAL", data_dir=tmp_path).stdout.split()[-1])

    leave_a_row()
    run = _cx("demo", "--input", str(scenario), data_dir=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert rows() == expected  # the earlier row is gone

    leave_a_row()
    kept = _cx("demo", "--input", str(scenario), "--keep", data_dir=tmp_path, timeout=180)
    assert kept.returncode == 0, kept.stderr[-2000:]
    assert rows() == expected + 1  # the earlier row stays; the same events again are one row each


def test_sla_check_prints_the_limits(tmp_path):
    result = _cx("sla", "check", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "first_response" in result.stdout and "chat" in result.stdout and "1m" in result.stdout
    assert "lateness 30s" in result.stdout
