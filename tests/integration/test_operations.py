"""Operational behaviour: metrics and health endpoints, restarting on a recreated topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from service.config import Settings
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def sample(metrics: str, name: str) -> float:
    """The value of one exact sample line (name with labels)."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed")


async def test_metrics_and_health(settings: Settings, spawn: Callable[..., ServiceProcess]) -> None:
    svc = spawn(settings)
    port = svc.http_port()
    svc.wait_log("partitions assigned")
    assert await http_get(port, "/healthz") == (200, "ok\n")
    event = contacts_event("acme", [contact("M1"), contact("M2", phone="x")])
    await produce(settings, [event, b"garbage"], key=b"k")
    await outcomes(settings, expect=2)
    assert await http_get(port, "/readyz") == (200, "ready\n")
    _, text = await http_get(port, "/metrics")
    assert sample(text, 'contact_import_records_total{dialect="contact.v1",status="ADDED"}') == 1
    assert sample(text, 'contact_import_records_total{dialect="contact.v1",status="FAILED"}') == 1
    assert sample(text, 'contact_import_dead_letters_total{reason="not_json"}') == 1
    assert sample(text, "contact_import_messages_consumed_total") == 2
    assert sample(text, "contact_import_batch_messages_count") >= 1
    assert sample(text, "contact_import_batch_duration_seconds_count") >= 1
    assert sample(text, "contact_import_db_transaction_duration_seconds_count") >= 1
    published = f'contact_import_outbox_published_total{{topic="{settings.results_topic}"}}'
    assert sample(text, published) == 2
    lags = [float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith("contact_import_consumer_lag_")]
    assert lags and all(v == 0 for v in lags)  # everything published was consumed
    assert (await http_get(port, "/nope"))[0] == 404
    await _kafka_offsets_mirror_the_stored_ones(settings)


async def _kafka_offsets_mirror_the_stored_ones(settings: Settings) -> None:
    """Kafka's committed offsets of the group (what lag tooling reads) follow the stored ones,
    mirrored after each transaction off the batch path."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1", settings.group_id
        )
    finally:
        await conn.close()
    stored = {r["partition"]: r["next_offset"] for r in rows}
    assert stored
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.group_id)
    await reader.start()  # never subscribes, so it does not join the group
    try:
        tps = [TopicPartition(settings.input_topic, p) for p in stored]
        for _ in range(100):
            kafka = {tp.partition: await reader.committed(tp) for tp in tps}
            if kafka == stored:
                break
            await asyncio.sleep(0.1)
        assert kafka == stored
    finally:
        await reader.stop()


async def test_stored_offsets_beyond_the_log_end_restart_from_the_beginning(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    # offsets left over from an earlier incarnation of the topic (the embedded broker forgets its topics)
    await conn.executemany(
        "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, 500)",
        [(settings.group_id, settings.input_topic, p) for p in range(settings.topic_partitions)],
    )
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    await produce(settings, [contacts_event("acme", [contact(f"R{i}")]) for i in range(6)], keys=None)
    got = await outcomes(settings, expect=6)
    assert sorted(o["user_data"] for o in got) == [f"R{i}" for i in range(6)]
    assert "stored offset is beyond the log end" in svc.log()
    stored = await conn.fetch("SELECT next_offset FROM consumer_offsets WHERE group_id = $1", settings.group_id)
    assert sum(r["next_offset"] for r in stored if r["next_offset"] < 500) == 6
