"""The local broker's lifecycle: starts, answers, stops, and never outlives its parent."""

import os
import signal
import subprocess
import sys
import time

from kafka import KafkaAdminClient

from pipeline.broker import LocalBroker, ensure_topics
from pipeline.config import Settings


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_start_answer_stop():
    broker = LocalBroker().start()
    pid = broker.pid
    assert broker.running and _alive(pid)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    assert isinstance(admin.list_topics(), list)
    admin.close()
    broker.stop()
    assert not broker.running
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_topics_are_created_explicitly_with_partition_count(broker):
    settings = Settings(kafka_bootstrap=broker.bootstrap, topic_prefix="topics-test.", partitions=3)
    names = ensure_topics(settings)
    assert names == [f"topics-test.cx.{t}" for t in ("touchpoints", "reviews", "scored", "breaches", "dlq", "case-events")]
    assert ensure_topics(settings) == names  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
    admin.close()
    assert described == {name: 3 for name in names}


def test_broker_dies_with_a_killed_parent(tmp_path):
    script = (
        "import sys, time\n"
        "from pipeline.broker import LocalBroker\n"
        "b = LocalBroker().start()\n"
        "print(b.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup: only the kernel's parent-death signal
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "broker outlived its killed parent"
