"""Delivering breach notices: HTTP and SMTP senders with retries, the ClickHouse ledger, the runner."""

from pipeline.delivery.ledger import Ledger
from pipeline.delivery.runner import NoticeRunner
from pipeline.delivery.send import Delivery, Sender

__all__ = ["Delivery", "Ledger", "NoticeRunner", "Sender"]
