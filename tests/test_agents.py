"""The agents' steps on their own, without a broker: what a landing agent does with what it holds
back for a larger batch when partitions leave it."""

import asyncio

from faust.types import TP

from pipeline.broker.topics import TOUCHPOINTS
from pipeline.store import tables
from streams.agents.landing import LandingAgent
from streams.kafka.app import faust_app
from streams.kafka.bulk import Bulk
from streams.worker import Worker
from tests.records import fetched


def test_a_landing_agent_keeps_what_it_took_when_partitions_leave_and_starts_small(settings, store):
    worker = Worker(settings, store)
    app = faust_app(settings, settings.app_id)
    agent = LandingAgent(worker, app, tables.TOUCHPOINTS, Bulk(capacity=100))
    topic = settings.topic(TOUCHPOINTS)
    agent.held = fetched(topic, 0, range(5)) + fetched(topic, 1, range(3))
    agent.taken_to = {TP(topic, 0): 4, TP(topic, 1): 2}

    asyncio.run(agent.on_revoked({TP(topic, 0)}))

    # The consumer counts them as read: dropped, they could be skipped for good if partition 0 stays.
    assert [(m.partition, m.offset) for m in agent.held] == [(0, o) for o in range(5)] + [(1, 0), (1, 1), (1, 2)]
    assert agent.first_after_handover  # the next batch is an ordinary one: progress shows soon
