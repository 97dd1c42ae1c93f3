"""Crash hard at each failpoint, restart: every record applied exactly once, every outcome published.

Offsets live in Postgres with the effects, so a restart resumes exactly where the last commit left
off: nothing is re-applied (not even an event-id replay is needed) and outcome ids are stable, so
the only duplicates on the results topic are byte-identical re-sends of outbox rows.

A restarted consumer waits for the crashed member's session to expire before it gets partitions
(~20 s on tansu), so the three scenarios run concurrently in one module fixture, each with its own
topics, group and database; each parametrized test then checks one scenario's end state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from service.config import Settings
from service.kafka.clients import ensure_topics
from service.model.outcome import outcome_id
from service.store import db as store_db
from service.store.migrate import migrate
from tests.support import ServiceProcess, contact, contacts_event, make_settings, outcomes, produce, read_topic

if TYPE_CHECKING:
    from tests.conftest import Infra

FAILPOINTS = ("before_db_commit", "after_db_commit", "after_publish")
SEQ = 8  # events updating user SEQ one after another, attributes {"seq": i}
PAIRS = 22  # events adding two distinct users each
EVENTS = SEQ + PAIRS
RECORDS = SEQ + 2 * PAIRS
USERS = 1 + 2 * PAIRS


def workload() -> tuple[list[dict[str, Any]], list[bytes]]:
    """SEQ updates interleaved with pair inserts; keyed by user so each user's events stay in order."""
    events: list[dict[str, Any]] = []
    keys: list[bytes] = []
    for i in range(PAIRS):
        if i < SEQ:
            events.append(contacts_event("acme", [contact("SEQ", attributes={"seq": i})], event_id=f"seq-{i}"))
            keys.append(b"SEQ")
        users = [f"P{i}a", f"P{i}b"]
        events.append(contacts_event("acme", [contact(u, phone=f"+1212555{i:04d}") for u in users], event_id=f"p-{i}"))
        keys.append(users[0].encode())
    return events, keys


EVENT_RECORDS = {e["id"]: len(e["data"]["contacts"]) for e in workload()[0]}


@dataclass
class Run:
    settings: Settings
    first_code: int
    first_log: str
    committed_at_crash: int  # input messages whose effects were committed when the first process died
    second_code: int


async def stored_offsets(conn: asyncpg.Connection, s: Settings) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
        s.group_id,
        s.input_topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def fresh_settings(infra: Infra) -> Settings:
    """Like the ``settings`` fixture (own topics, group, migrated database) with batches of 5."""
    tag = uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(infra.database.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "t_{tag}"')
    finally:
        await admin.close()
    conn = await store_db.connect(infra.database.dsn(f"t_{tag}"))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return make_settings(infra.broker.bootstrap, infra.database.dsn(f"t_{tag}"), tag, batch_max_records=5)


async def wait_settled(conn: asyncpg.Connection, s: Settings, svc: ServiceProcess, timeout_s: float) -> None:
    """Until every input message is committed in Postgres and every outbox row is published."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert svc.proc is not None and svc.proc.poll() is None, svc.log()[-3000:]
        consumed = sum((await stored_offsets(conn, s)).values())
        box = await conn.fetchrow("SELECT count(*) AS n, count(published_at) AS published FROM outbox")
        if consumed == EVENTS and box["n"] == box["published"] >= RECORDS:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not settled within {timeout_s}s:\n{svc.log()[-3000:]}")


async def crash_and_restart(infra: Infra, failpoint: str, logs: Path, started: list[ServiceProcess]) -> Run:
    s = await fresh_settings(infra)
    await ensure_topics(s)
    events, keys = workload()
    await produce(s, events, keys=keys)  # all queued before the start: the crash falls mid-stream
    first = ServiceProcess(s, logs / f"{failpoint}-1.log", CIS_FAILPOINT=failpoint, CIS_FAILPOINT_AFTER="2")
    started.append(first.start())
    first_code = await asyncio.to_thread(first.wait_exit, 90)
    conn = await store_db.connect(s.database_url.get_secret_value())
    try:
        committed = sum((await stored_offsets(conn, s)).values())
        second = ServiceProcess(s, logs / f"{failpoint}-2.log")
        started.append(second.start())
        await wait_settled(conn, s, second, timeout_s=120)
    finally:
        await conn.close()
    second_code = await asyncio.to_thread(second.terminate, 30)
    return Run(s, first_code, first.log(), committed, second_code)


@pytest.fixture(scope="module")
def runs(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    logs = tmp_path_factory.mktemp("crash")
    started: list[ServiceProcess] = []

    async def all_runs() -> dict[str, Run]:
        done = await asyncio.gather(*(crash_and_restart(infra, fp, logs, started) for fp in FAILPOINTS))
        return dict(zip(FAILPOINTS, done, strict=True))

    try:
        yield asyncio.run(all_runs())
    finally:
        for p in started:
            p.kill()


@pytest.mark.parametrize("failpoint", FAILPOINTS)
async def test_crash_then_restart_applies_each_record_once(failpoint: str, runs: dict[str, Run]) -> None:
    run = runs[failpoint]
    s = run.settings
    assert run.first_code == 137, run.first_log[-3000:]
    assert f"failpoint {failpoint} reached" in run.first_log
    assert run.committed_at_crash > 0  # some batches were committed before the crash...
    if failpoint != "after_publish":  # ...and the consumer itself died mid-stream
        assert run.committed_at_crash < EVENTS
    assert run.second_code == 0
    conn = await store_db.connect(s.database_url.get_secret_value())
    try:
        # 1. applied exactly once: SEQ changed once per event, every other user was inserted once
        seq = await conn.fetchrow("SELECT version, data FROM customers WHERE tenant = 'acme' AND user_data = 'SEQ'")
        assert seq["version"] == SEQ and seq["data"]["attributes"] == {"seq": SEQ - 1}
        versions = await conn.fetch("SELECT version, count(*) AS n FROM customers GROUP BY version ORDER BY version")
        assert [(r["version"], r["n"]) for r in versions] == [(1, USERS - 1), (SEQ, 1)]
        assert await conn.fetchval("SELECT count(*) FROM campaign_records") == USERS
        assert await conn.fetchval("SELECT count(*) FROM dial_list") == USERS

        # 2. no replay: the stored offsets alone kept committed batches from being read again
        replays = await conn.fetchval("""SELECT count(*) FROM outbox WHERE headers @> '[["replay","true"]]'::jsonb""")
        assert replays == 0
        claimed = await conn.fetch("SELECT event_id, records FROM processed_events")
        assert {r["event_id"]: r["records"] for r in claimed} == EVENT_RECORDS and len(claimed) == EVENTS
        per_event = await conn.fetch("SELECT event_id, count(*) AS n FROM outbox GROUP BY event_id")
        assert {r["event_id"]: r["n"] for r in per_event} == EVENT_RECORDS

        # 4. the stored offsets are the end of every input partition (read back: tansu's ListOffsets is off)
        inputs = await read_topic(s.kafka_bootstrap, s.input_topic, expect=EVENTS, idle_s=1)
        ends: dict[int, int] = {}
        for m in inputs:
            ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
        assert len(inputs) == EVENTS and await stored_offsets(conn, s) == ends
    finally:
        await conn.close()

    # 3. every record has an outcome with a stable id; a re-sent outcome is identical to the first copy
    got = await outcomes(s, expect=RECORDS, idle_s=2)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for o in got:
        by_id.setdefault(o["outcome_id"], []).append(o)
    assert set(by_id) == {outcome_id(f"tests\x1f{e}", i) for e, n in EVENT_RECORDS.items() for i in range(n)}
    for copies in by_id.values():
        assert all(c == copies[0] for c in copies[1:]), copies
    if failpoint == "after_publish":  # the relay round published but not marked was sent again
        assert any(len(copies) > 1 for copies in by_id.values()) and len(got) > RECORDS
    seq_outcomes = sorted((c[0] for c in by_id.values() if c[0]["user_data"] == "SEQ"), key=lambda o: o["event_id"])
    assert [(o["status"], o["version"], o["contact"]["attributes"]) for o in seq_outcomes] == [
        ("ADDED" if i == 0 else "UPDATED", i + 1, {"seq": i}) for i in range(SEQ)
    ]
    assert all(c[0]["status"] == "ADDED" and c[0]["version"] == 1 for c in by_id.values() if c[0]["user_data"] != "SEQ")
