"""The store and the batch transaction against a real Postgres (no broker needed here)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import pytest

from service.catalog.model import Catalog
from service.config import Settings
from service.dialects import default_registry
from service.errors import FencedError
from service.model.contact import Contact, ContactRecord, Phone, Policy, WriteMode
from service.pipeline.processor import Processor
from service.store import contacts, dnc, offsets
from service.store import db as store_db
from tests.support import contact, contacts_event


@dataclass
class Msg:
    value: bytes | None
    offset: int
    partition: int = 0
    topic: str = "in"
    timestamp: int = 0
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


def _rec(user_data: str, *phones: str, mode: WriteMode = WriteMode.UPDATE, **fields: Any) -> ContactRecord:
    return ContactRecord(
        tenant="t",
        campaign="c",
        contact=Contact(user_data=user_data, phones=[Phone(number=p) for p in phones], **fields),
        policy=Policy(mode=mode),
    )


async def test_offsets_are_fenced(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await offsets.advance(conn, "g", "in", {0: (None, 10), 1: (None, 5)})
    assert await offsets.stored(conn, "g", "in", [0, 1, 2]) == {0: 10, 1: 5}
    async with conn.transaction():
        await offsets.advance(conn, "g", "in", {0: (10, 20)})
    with pytest.raises(FencedError):
        async with conn.transaction():
            await offsets.advance(conn, "g", "in", {0: (10, 30), 1: (5, 6)})  # 0 moved on meanwhile
    assert await offsets.stored(conn, "g", "in", [0, 1]) == {0: 20, 1: 5}  # nothing of it stuck


async def test_two_owners_of_a_partition_serialise_and_the_second_is_fenced(dsn: str) -> None:
    a, b = await store_db.connect(dsn), await store_db.connect(dsn)
    try:
        tx_a = a.transaction()
        await tx_a.start()
        await offsets.advance(a, "g", "in", {0: (None, 10)})
        tx_b = b.transaction()
        await tx_b.start()
        blocked = asyncio.create_task(offsets.advance(b, "g", "in", {0: (None, 10)}))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # waits on A's row lock
        await tx_a.commit()
        with pytest.raises(FencedError):
            await blocked
        await tx_b.rollback()
    finally:
        await a.close()
        await b.close()


async def test_dial_list_mirrors_phones_and_replace_drops_fields(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        r = await contacts.apply(conn, [_rec("U", "+111", "+222", name="Ann", agent="a1")])
    assert r[0].status.value == "ADDED"
    async with conn.transaction():
        r = await contacts.apply(conn, [_rec("U", "+333", mode=WriteMode.REPLACE)])
    assert r[0].status.value == "UPDATED" and "name" not in r[0].contact and "agent" not in r[0].contact
    phones = [row["phone"] for row in await conn.fetch("SELECT phone FROM dial_list ORDER BY phone")]
    assert phones == ["+333"]
    assert await conn.fetchval("SELECT agent FROM campaign_records") is None


async def test_dry_run_computes_outcomes_and_writes_nothing(conn: asyncpg.Connection) -> None:
    dry = _rec("D", "+1")
    dry.policy = Policy(dry_run=True)
    async with conn.transaction():
        r = await contacts.apply(conn, [dry, _rec("E", "+2")])
    assert [x.status.value for x in r] == ["ADDED", "ADDED"]
    assert await conn.fetchval("SELECT array_agg(user_data) FROM customers") == ["E"]


async def test_a_value_the_database_rejects_fails_only_its_record(conn: asyncpg.Connection) -> None:
    registry = default_registry(Settings().schema_dir)
    proc = Processor(Settings(results_topic="out"), registry)
    # a rule of the database the service cannot know about rejects one record
    await conn.execute("ALTER TABLE customers ADD CONSTRAINT no_poison CHECK (data->>'name' IS DISTINCT FROM 'poison')")
    event = contacts_event("t", [contact("ok-1"), contact("nul", name="poison"), contact("ok-2")])
    prepared, dead = proc.prepare([Msg(orjson.dumps(event), 0)], Catalog())
    result = await proc.commit(conn, prepared, dead, {("in", 0): (None, 1)})
    assert result.records == 3
    rows = await conn.fetch("SELECT payload FROM outbox ORDER BY seq")
    statuses = [orjson.loads(r["payload"])["data"]["status"] for r in rows]
    assert statuses == ["ADDED", "FAILED", "ADDED"]
    failed = orjson.loads(rows[1]["payload"])["data"]
    assert failed["errors"][0]["code"] == "store.rejected" and failed["user_data"] == "nul"
    assert await conn.fetchval("SELECT count(*) FROM customers") == 2
    assert await offsets.stored(conn, proc._s.group_id, "in", [0]) == {0: 1}


async def test_a_stored_number_on_a_do_not_call_list_is_not_queued_again(conn: asyncpg.Connection) -> None:
    """The suppression check covers every number the dial list is rebuilt from, stored ones too: an
    update that sends no phones keeps the stored number, and the number stays off the dial list."""
    async with conn.transaction():
        await contacts.apply(conn, [_rec("K", "+4930123456", name="Ann")])
    async with conn.transaction():
        await dnc.add_list(conn, "t", "complaints", None)
        await dnc.add_numbers(conn, [("t", "complaints", "+4930123456", None)])
        await conn.execute("DELETE FROM dial_list WHERE phone = '+4930123456'")  # what adding a number does
    async with conn.transaction():
        [r] = await contacts.apply(conn, [_rec("K", name="Ann B.")])
    assert r.contact["phones"][0]["number"] == "+4930123456"  # kept on the contact
    assert r.status.value == "SUPPRESSED"
    assert r.details["suppressed"] == [{"phone": "+4930123456", "list": "complaints", "tenant": "t"}]
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE phone = '+4930123456'") == 0
