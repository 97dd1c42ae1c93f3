"""aiokafka client factories and topic creation, configured from :class:`Settings`."""

from __future__ import annotations

import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service.config import Settings

log = structlog.get_logger(__name__)


def producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    args: dict[str, object] = {
        **settings.kafka_common(),
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
    args: dict[str, object] = {
        **settings.kafka_common(),
        "group_id": settings.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "max_partition_fetch_bytes": max(1_048_576, settings.max_message_bytes + 65_536),
    }
    args.update(overrides)
    return AIOKafkaConsumer(*topics, **args)


async def ensure_topics(settings: Settings) -> None:
    """Create the input, results, dead-letter and jobs topics when missing."""
    admin = AIOKafkaAdminClient(**settings.kafka_common())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.input_topic, settings.results_topic, settings.dead_letter_topic, settings.jobs_topic]
        missing = [t for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(t, settings.topic_partitions, 1) for t in missing])
            log.info("topics created", topics=missing, partitions=settings.topic_partitions)
    finally:
        await admin.close()
