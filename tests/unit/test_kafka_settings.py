"""The Kafka settings reach the clients the service builds (client id, membership, timeouts, topics)."""

from __future__ import annotations

import socket

from service.config import Settings
from service.kafka import clients

TUNED = {
    "kafka_client_id": "contact-import-pod-0",
    "kafka_group_instance_id": "pod-0",
    "kafka_session_timeout_ms": 7000,
    "kafka_heartbeat_interval_ms": 1000,
    "kafka_max_poll_interval_ms": 60000,
}


async def test_the_group_consumer_takes_the_membership_and_timeout_settings() -> None:
    consumer = clients.consumer(Settings(**TUNED))  # type: ignore[arg-type]
    try:
        assert consumer._client._client_id == "contact-import-pod-0"
        assert consumer._group_instance_id == "pod-0"
        assert consumer._session_timeout_ms == 7000
        assert consumer._heartbeat_interval_ms == 1000
        assert consumer._max_poll_interval_ms == 60000
    finally:
        await consumer.stop()


async def test_membership_is_dynamic_by_default_and_the_tools_join_no_group() -> None:
    default = clients.consumer(Settings())
    tool = clients.consumer(Settings(**TUNED), group_id=None)  # type: ignore[arg-type]
    try:
        assert default._group_instance_id is None
        assert default._session_timeout_ms == 10_000
        assert default._client._client_id == f"contact-import-{socket.gethostname()}"
        assert tool._group_instance_id is None
    finally:
        await default.stop()
        await tool.stop()


async def test_the_producer_and_the_admin_client_carry_the_client_id() -> None:
    settings = Settings(**TUNED)  # type: ignore[arg-type]
    producer = clients.producer(settings)
    admin = clients.admin(settings)
    try:
        assert producer.client._client_id == "contact-import-pod-0"
        assert admin._client._client_id == "contact-import-pod-0"
    finally:
        await producer.stop()
        await admin.close()


def test_topics_are_created_for_a_three_broker_cluster_by_default() -> None:
    topic = clients.new_topic(Settings(), "t")
    assert (topic.num_partitions, topic.replication_factor) == (6, 3)
    assert topic.topic_configs == {"min.insync.replicas": "2"}
    one = clients.new_topic(Settings(topic_replication_factor=1, topic_min_insync_replicas=1), "t")
    assert (one.replication_factor, one.topic_configs) == (1, {"min.insync.replicas": "1"})


def test_the_postgres_session_timeouts_are_server_settings_in_milliseconds() -> None:
    assert Settings().pg_server_settings() == {"idle_in_transaction_session_timeout": "30000", "lock_timeout": "10000"}
    off = Settings(pg_idle_in_transaction_timeout_s=0, pg_lock_timeout_s=0.5).pg_server_settings()
    assert off == {"idle_in_transaction_session_timeout": "0", "lock_timeout": "500"}
