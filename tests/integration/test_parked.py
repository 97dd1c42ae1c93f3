"""A message the producer refuses for good is parked, out of the publishing order; everything behind it is
published; ``contact-import parked list`` shows it and ``parked redrive`` queues it again after a fix."""

from __future__ import annotations

import subprocess
import sys

import orjson

from service.config import Settings
from service.kafka import clients
from service.kafka.relay import Relay
from service.runtime import metrics
from service.store import db as store_db
from service.store import outbox
from service.store.outbox import OutMessage
from tests.support import ROOT, read_topic
from tests.support import settings_env as env_of

BIG = 2 * 1024 * 1024


def _cli(settings: Settings, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "service", "parked", *args],
        cwd=ROOT, env={**env_of(settings), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode == 0) == ok, done.stderr
    return done


def _msg(settings: Settings, n: int, size: int = 0) -> OutMessage:
    # a message on the jobs topic that is neither an outcome nor a dead letter: nothing can make it smaller
    return OutMessage(settings.jobs_topic, f"k{n}".encode(), b"x" * size or f"m{n}".encode(), [("n", str(n))])


async def _relay_round(settings: Settings) -> int:
    pool = await store_db.create_pool(settings.database_url.get_secret_value(), 2)
    producer = clients.producer(settings)
    await producer.start()
    try:
        return await Relay(settings, pool, producer).flush_once()
    finally:
        await producer.stop()
        await pool.close()


async def test_a_refused_message_is_parked_listed_and_redriven(settings: Settings) -> None:
    await clients.ensure_topics(settings)
    conn = await store_db.connect(settings.database_url.get_secret_value())
    try:
        await outbox.add(conn, [_msg(settings, 1), _msg(settings, 2, BIG), _msg(settings, 3)])
        parked_before = metrics.OUTBOX_PARKED.labels(settings.jobs_topic, "MessageSizeTooLargeError")._value.get()
        assert await _relay_round(settings) == 3
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL") == 0
        got = await read_topic(settings.kafka_bootstrap, settings.jobs_topic, expect=2, idle_s=0.5)
        assert sorted(m.value for m in got) == [b"m1", b"m3"]  # the one behind the refused message too
        parked_now = metrics.OUTBOX_PARKED.labels(settings.jobs_topic, "MessageSizeTooLargeError")._value.get()
        assert parked_now == parked_before + 1
        assert await _relay_round(settings) == 0  # parked: out of the publishing order, not retried

        table = _cli(settings, "list").stdout  # for people: a table of the same fields
        assert all(column in table for column in ("id", "topic", "bytes", "error", "parked_at"))
        assert "MessageSizeTooLargeError" in table and settings.jobs_topic in table
        listed = [orjson.loads(line) for line in _cli(settings, "list", "--json").stdout.splitlines()]
        assert len(listed) == 1 and listed[0]["topic"] == settings.jobs_topic and listed[0]["bytes"] == BIG
        assert listed[0]["error"].startswith("MessageSizeTooLargeError")
        seq = listed[0]["id"]

        assert "name the ids" in _cli(settings, "redrive", ok=False).stderr
        missing = _cli(settings, "redrive", "999999", ok=False)
        assert "not parked" in missing.stderr and "999999" in missing.stderr
        # re-driven without a fix: refused again, parked again (with a new id, at the end of the order)
        again = [orjson.loads(line) for line in _cli(settings, "redrive", str(seq), "--json").stdout.splitlines()]
        assert again[0]["id"] == seq and again[0]["queued_as"] > seq
        await _relay_round(settings)
        assert [x["id"] for x in map(orjson.loads, _cli(settings, "list", "--json").stdout.splitlines())] == [
            again[0]["queued_as"]
        ]

        # the fix: the topic takes larger messages and so may the producer; re-driven, it is published once
        redriven = _cli(settings, "redrive", "--all")
        assert (
            "re-drove 1" in redriven.stderr
            and f"parked message {again[0]['queued_as']} queued again as" in redriven.stdout
        )
        assert _cli(settings, "list", "--json").stdout == ""
        assert await _relay_round(settings.model_copy(update={"kafka_max_request_bytes": 4 * BIG})) == 1
        got = await read_topic(settings.kafka_bootstrap, settings.jobs_topic, expect=3, idle_s=1)
        assert sorted(len(m.value) for m in got) == [2, 2, BIG]
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        await conn.close()
