"""Topics are created with the configured replication factor and min.insync.replicas (embedded broker)."""

from __future__ import annotations

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from service.config import Settings
from service.kafka import clients


async def _created(settings: Settings) -> tuple[set[int], str]:
    await clients.ensure_topics(settings)
    admin = clients.admin(settings)
    await admin.start()
    try:
        [described] = await admin.describe_topics([settings.input_topic])
        [answer] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.input_topic)])
    finally:
        await admin.close()
    replicas = {len(p["replicas"]) for p in described["partitions"]}
    [resource] = answer.resources
    configs = {entry[0]: entry[1] for entry in resource[4]}
    return replicas, configs["min.insync.replicas"]


async def test_the_embedded_broker_gets_one_replica(settings: Settings) -> None:
    # the shared test settings are the embedded stack's: one node, one replica, one in sync
    assert await _created(settings) == ({1}, "1")


async def test_the_shipped_defaults_ask_for_three_replicas_and_two_in_sync(settings: Settings) -> None:
    # the product defaults, set here on purpose: tansu takes them and reports three replicas (its one
    # node three times), so the request the service sends a real cluster is what the broker sees
    shipped = settings.model_copy(update={"topic_replication_factor": 3, "topic_min_insync_replicas": 2})
    assert await _created(shipped) == ({3}, "2")
