"""The agents' steps on their own, without a broker: what a landing agent holds back for a larger
batch, and what it lets go when partitions leave it."""

import asyncio

from faust.types import TP

from pipeline.broker.topics import TOUCHPOINTS
from pipeline.store import tables
from streams.agents.landing import LandingAgent
from streams.kafka.app import faust_app
from streams.kafka.bulk import Bulk
from streams.worker import Worker
from tests.records import fetched


def test_a_landing_agent_lets_go_of_what_it_held_from_partitions_that_leave(settings, store):
    worker = Worker(settings, store)
    app = faust_app(settings, settings.app_id)
    agent = LandingAgent(worker, app, tables.TOUCHPOINTS, Bulk(capacity=100))
    topic = settings.topic(TOUCHPOINTS)
    agent.held = fetched(topic, 0, range(5)) + fetched(topic, 1, range(3))
    agent.taken_to = {TP(topic, 0): 4, TP(topic, 1): 2}

    asyncio.run(agent.on_revoked({TP(topic, 0)}))

    # Unacknowledged, so partition 0's next owner reads them; landed here they would land twice.
    assert [(m.partition, m.offset) for m in agent.held] == [(1, 0), (1, 1), (1, 2)]
    assert agent.taken_to == {TP(topic, 1): 2}
    assert agent.first_after_handover  # the next batch is an ordinary one: progress shows soon
