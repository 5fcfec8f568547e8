"""Breach notices, as plain logic: the subscribers file, routing, rendering, signing, rate limits,
digests and escalation. Delivery over the network is `pipeline.delivery`; the agent is `streams.agents.notify`."""

from pipeline.alerts.dispatch import Dispatcher
from pipeline.alerts.exceptions import AlertsConfigError
from pipeline.alerts.notice import Item, Key, Notice
from pipeline.alerts.render import Renderer
from pipeline.alerts.subscribers import Subscriber, SubscribersFile, load_subscribers, parse_subscribers

__all__ = [
    "AlertsConfigError",
    "Dispatcher",
    "Item",
    "Key",
    "Notice",
    "Renderer",
    "Subscriber",
    "SubscribersFile",
    "load_subscribers",
    "parse_subscribers",
]
