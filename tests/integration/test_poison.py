"""Poison messages never stop the stream: with the shipped settings, 2 MiB, 5 MiB and 1,048,500-byte
messages between good events are dead-lettered within what the producer may send (truncated, the
original kept in the outbox), every good outcome arrives, /readyz stays ready, and a restart publishes
nothing twice and blocks on nothing.

The embedded broker (tansu) stores messages of any size; the producer refuses anything above its max
request size (1 MiB by default): that refusal is what used to stop the relay for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from service.cli.deadletters import replay
from service.config import Settings
from service.kafka.fitting import wire_size
from tests.integration.test_operations import http_get
from tests.support import ServiceProcess, contact, contacts_event, outcomes, read_topic

MIB = 1024 * 1024


def _big_event(size: int, event_id: str) -> bytes:
    """A contact.v1 event of exactly ``size`` bytes (valid JSON, too large for CIS_MAX_MESSAGE_BYTES)."""
    event = contacts_event("acme", [contact("HUGE", name="pad")], event_id=event_id)
    event["pad"] = ""
    raw = orjson.dumps(event)
    event["pad"] = "p" * (size - len(raw))
    out = orjson.dumps(event)
    assert len(out) == size
    return out


async def produce_large(settings: Settings, values: list[bytes], key: bytes) -> None:
    """An upstream producer allowed large messages (the topic's max.message.bytes raised; tansu stores any)."""
    producer = AIOKafkaProducer(
        **settings.kafka_common(), enable_idempotence=False, acks="all", max_request_size=8 * MIB
    )
    await producer.start()
    try:
        for v in values:
            await producer.send(settings.input_topic, v, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def _headers(m: Any) -> dict[str, bytes]:
    return {k: v for k, v in m.headers}


async def test_poison_messages_between_good_events_stop_nothing(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    svc = spawn(settings, "first")
    port = svc.http_port()
    svc.wait_log("partitions assigned")
    good = [orjson.dumps(contacts_event("acme", [contact(f"G{i}")], event_id=f"good-{i}")) for i in range(4)]
    poison = [_big_event(2 * MIB, "big-2"), _big_event(5 * MIB, "big-5"), b"\xff" * 1_048_500]
    assert len(poison[2]) < settings.max_message_bytes  # read, but not JSON: a dead letter of its full body
    # one key: one partition, so the order is strict and every good event after a poison one waits on it
    await produce_large(settings, [good[0], poison[0], good[1], poison[1], good[2], poison[2], good[3]], b"k")

    got = await outcomes(settings, expect=4, timeout_s=90)
    assert sorted((o["user_data"], o["status"]) for o in got) == [(f"G{i}", "ADDED") for i in range(4)]
    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=3, timeout_s=30)
    assert [_headers(m)["dlq_reason"] for m in dead] == [b"too_large", b"too_large", b"not_json"]
    for m, original in zip(dead, poison, strict=True):
        h = _headers(m)
        assert h["dlq_truncated"] == b"true"
        assert int(h["dlq_original_size"]) == len(original)
        assert h["dlq_original_sha256"] == hashlib.sha256(original).hexdigest().encode()
        assert original.startswith(m.value) and 0 < len(m.value) < len(original)
        assert wire_size(m.key, m.value, list(m.headers)) <= settings.kafka_max_request_bytes
    assert await http_get(port, "/readyz") == (200, "ready\n")
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        # the whole bodies stay in the outbox (for dead-letters replay); nothing waits, nothing is parked
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        kept = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY seq", settings.dead_letter_topic)
        assert [r["payload"] for r in kept] == poison
    finally:
        await conn.close()

    # a restart publishes nothing twice and blocks on nothing
    svc.terminate()
    svc = spawn(settings, "second")
    port = svc.http_port()
    svc.wait_log("partitions assigned")
    await produce_large(settings, [orjson.dumps(contacts_event("acme", [contact("G4")], event_id="good-4"))], b"k")
    again = await outcomes(settings, expect=5, timeout_s=60, idle_s=2)
    assert len(again) == 5 and len({o["outcome_id"] for o in again}) == 5
    assert sorted(o["user_data"] for o in again) == [f"G{i}" for i in range(5)]
    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=3, idle_s=2)
    assert len(dead) == 3
    assert await http_get(port, "/readyz") == (200, "ready\n")

    # dead-letters replay sends the whole bodies (from the outbox), once the producer may send them
    svc.terminate()
    refused = await replay(settings, idle_s=2)
    # with its record overhead even the 1,048,500-byte one is more than a default producer sends
    assert (refused.replayed, refused.skipped_too_large) == (0, 3)
    done = await replay(settings.model_copy(update={"kafka_max_request_bytes": 8 * MIB}), idle_s=2)
    assert done.replayed == 3 and done.by_reason == {"too_large": 2, "not_json": 1}
    inputs = await read_topic(settings.kafka_bootstrap, settings.input_topic, expect=11, idle_s=1)
    assert [m.value for m in inputs[-3:]] == poison
    assert all(m.key == b"k" and list(m.headers) == [] for m in inputs[-3:])


async def test_an_outcome_too_large_to_publish_goes_out_without_its_snapshot(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    # each event adds 100 attributes of 1,024 four-byte characters (about 410 KiB) to one contact: the
    # third outcome's contact snapshot is over 1.2 MB, more than the producer may send
    wide = "\U0001f4de" * 1024
    events = [
        contacts_event(
            "acme",
            [contact("WIDE", attributes={f"{part}{i}": wide for i in range(100)})],
            event_id=f"wide-{part}",
            mode="update",
        )
        for part in "abc"
    ]
    await produce_large(settings, [orjson.dumps(e) for e in events], b"WIDE")
    msgs = await read_topic(
        settings.kafka_bootstrap, settings.results_topic, expect=3, timeout_s=90, client=settings.kafka_common()
    )
    got = [orjson.loads(m.value)["data"] for m in msgs]
    assert [(o["event_id"], o["status"], o["version"]) for o in got] == [
        ("wide-a", "ADDED", 1),
        ("wide-b", "UPDATED", 2),
        ("wide-c", "UPDATED", 3),
    ]
    assert len(got[1]["contact"]["attributes"]) == 200 and "reduced" not in got[1]["details"]
    assert "contact" not in got[2] and got[2]["details"]["reduced"] is True
    assert _headers(msgs[2])["outcome_reduced"] == b"true" and "outcome_reduced" not in _headers(msgs[1])
    assert all(wire_size(m.key, m.value, list(m.headers)) <= settings.kafka_max_request_bytes for m in msgs)
