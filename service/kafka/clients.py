"""aiokafka client factories and topic creation, configured from :class:`Settings`."""

from __future__ import annotations

import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service.config import Settings

log = structlog.get_logger(__name__)


def _common(settings: Settings) -> dict[str, object]:
    return {**settings.kafka_common(), "client_id": settings.client_id()}


def producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    args: dict[str, object] = {
        **_common(settings),
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        # no linger: the relay hands over a whole round at once (sends that do not wait), which the
        # client batches per partition anyway; waiting 5 ms more only delayed every outcome
        "linger_ms": 0,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
        "max_request_size": settings.kafka_max_request_bytes,
    }
    args.update(overrides)
    return AIOKafkaProducer(**args)


def consumer(settings: Settings, *topics: str, **overrides: object) -> AIOKafkaConsumer:
    """The service's group consumer; ``group_id=None`` (the tools) leaves out the group's settings."""
    args: dict[str, object] = {
        **_common(settings),
        "group_id": settings.group_id,
        "group_instance_id": settings.kafka_group_instance_id or None,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "max_partition_fetch_bytes": max(1_048_576, settings.max_message_bytes + 65_536),
    }
    args.update(overrides)
    if args["group_id"] is None:
        args["group_instance_id"] = None
    return AIOKafkaConsumer(*topics, **args)


def admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**_common(settings))


def new_topic(settings: Settings, name: str) -> NewTopic:
    """A topic as the service creates it: its partitions, replication factor and min.insync.replicas."""
    return NewTopic(
        name,
        settings.topic_partitions,
        settings.topic_replication_factor,
        topic_configs={"min.insync.replicas": str(settings.topic_min_insync_replicas)},
    )


async def ensure_topics(settings: Settings) -> None:
    """Create the input, results, dead-letter and jobs topics when missing."""
    client = admin(settings)
    await client.start()
    try:
        existing = set(await client.list_topics())
        wanted = [settings.input_topic, settings.results_topic, settings.dead_letter_topic, settings.jobs_topic]
        missing = [t for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await client.create_topics([new_topic(settings, t) for t in missing])
            log.info(
                "topics created",
                topics=missing,
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                min_insync_replicas=settings.topic_min_insync_replicas,
            )
    finally:
        await client.close()
