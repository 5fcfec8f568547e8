"""A Kafka producer whose sends are awaited until the broker acknowledges them (librdkafka underneath,
its delivery reports served by a thread of its own)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException

from pipeline.broker.exceptions import BrokerUnavailable
from pipeline.config import Settings
from pipeline.produce import CONNECT_TIMEOUT, input_producer


class NotAcknowledged(Exception):
    """The broker did not acknowledge an event (an error, or no answer in time)."""


class AckingProducer:
    """`send` returns once the broker holds every message, or raises `NotAcknowledged`."""

    def __init__(self, settings: Settings, delivery_timeout: float):
        self.settings = settings
        # No linger: a request's messages are queued in one go, and the answer waits on the broker's
        # acknowledgement; lingering only delays it (bench.ingest, one connection: 0.60 of cx produce at 5 ms).
        self._producer = input_producer(settings, "cx-ingest", delivery_timeout, linger_ms=0)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="cx-ingest-acks", daemon=True)

    def start(self) -> None:
        """Check that a broker answers, then serve delivery reports."""
        try:
            self._producer.list_topics(timeout=CONNECT_TIMEOUT)
        except KafkaException as exc:
            raise BrokerUnavailable(f"no Kafka broker answered at {self.settings.kafka_bootstrap} within {CONNECT_TIMEOUT:.0f}s") from exc
        self._poller.start()

    def ready(self, timeout: float = 2.0) -> bool:
        """Whether a broker answers now."""
        try:
            self._producer.list_topics(timeout=timeout)
            return True
        except KafkaException:
            return False

    async def send(self, messages: Sequence[tuple[str, bytes | None, bytes]], timeout: float) -> None:
        """Send (contract topic, key, value) messages; return once all are acknowledged."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        # One future per request, settled from the delivery-report thread when the last report (or
        # the first error) comes: a future per message cost the event loop a callback per event.
        waiting = _Waiting(loop, done, len(messages))
        if not messages:
            done.set_result(None)
        for topic, key, value in messages:
            while True:
                try:
                    self._producer.produce(self.settings.topic(topic), value, key, on_delivery=waiting.delivered)
                    break
                except BufferError:  # librdkafka's queue is full: let it send
                    await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError as exc:
            raise NotAcknowledged(f"the broker did not acknowledge within {timeout:g} s") from exc

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to `timeout`), then stop serving reports."""
        self._producer.flush(timeout)
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)


class _Waiting:
    """A request's outstanding acknowledgements, counted down by the delivery-report thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future, count: int):
        self.loop, self.done, self.left = loop, done, count
        self.lock = threading.Lock()

    def delivered(self, error: KafkaError | None, _message: object) -> None:
        """librdkafka's delivery report for one message (on the poll thread)."""
        with self.lock:
            if self.left <= 0:
                return  # already settled (an earlier error)
            self.left = 0 if error is not None else self.left - 1
            if self.left:
                return
        self.loop.call_soon_threadsafe(_settle, self.done, error)


def _settle(future: asyncio.Future, error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(NotAcknowledged(str(error)))
