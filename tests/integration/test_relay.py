"""The outbox relay against a real Postgres and a real broker: a row committed late is still relayed."""

from __future__ import annotations

from service.config import Settings
from service.kafka import clients
from service.kafka.relay import Relay
from service.store import db as store_db
from service.store import outbox
from service.store.outbox import OutMessage
from tests.support import read_topic


def _msg(settings: Settings, n: int) -> OutMessage:
    return OutMessage(settings.results_topic, f"k{n}".encode(), f"m{n}".encode(), [("n", str(n))])


async def test_a_row_committed_below_the_mark_is_relayed_in_the_next_round(settings: Settings) -> None:
    """Two writers: the first takes seq 1 and commits after the second's seq 2 was relayed."""
    await clients.ensure_topics(settings)
    pool = await store_db.create_pool(settings.database_url.get_secret_value(), 3)
    producer = clients.producer(settings)
    await producer.start()
    try:
        relay = Relay(settings, pool, producer)
        async with pool.acquire() as slow, pool.acquire() as fast:
            tx = slow.transaction()
            await tx.start()
            await outbox.add(slow, [_msg(settings, 1)])  # seq 1, not yet visible
            await outbox.add(fast, [_msg(settings, 2), _msg(settings, 3)])  # seq 2 and 3, committed
            assert await relay.flush_once() == 2
            assert await relay.flush_once() == 0  # seq 1 is still invisible
            await tx.commit()
        assert await relay.flush_once() == 1  # found in the watched gap, not on a full rescan
        async with pool.acquire() as conn:
            await outbox.add(conn, [_msg(settings, 4)])
        assert await relay.flush_once() == 1
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        await producer.stop()
        await pool.close()
    got = await read_topic(settings.kafka_bootstrap, settings.results_topic, expect=4, idle_s=0.5)
    assert sorted(m.value for m in got) == [b"m1", b"m2", b"m3", b"m4"]
