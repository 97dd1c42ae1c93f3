"""Two batch transactions on the same contacts serialise (a real Postgres, the service's Processor).

Batch A is applied inside a transaction the test keeps open; batch B then runs on a second
connection. Where the two touch the same contact (or cross contacts: a do-not-call change, a phone
match), B must wait for A — visible in ``pg_stat_activity`` as a wait on an advisory lock — and,
once A commits, give the outcome it would give after A: a second writer of a new contact merges
into it (UPDATED, version 2) instead of adding it again and overwriting A.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from service.catalog.model import Campaign, Catalog
from service.config import Settings
from service.dialects import default_registry
from service.model.contact import MatchOn, MatchPolicy
from service.pipeline.processor import BatchResult, Processor
from service.store import db as store_db
from service.store import dnc, keylocks
from tests.integration.test_store import Msg
from tests.support import cloudevent, contact, contacts_event

PHONE_MATCH = Catalog(campaigns={("t", "c"): Campaign("t", "c", "C", match=MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE))})


class Batches:
    """The service's batch transaction, one partition per batch (so no batch fences another)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.proc = Processor(Settings(results_topic="out"), default_registry(Settings().schema_dir))
        self.catalog = catalog or Catalog()

    async def commit(self, conn: asyncpg.Connection, partition: int, events: Sequence[dict[str, Any]]) -> BatchResult:
        msgs = [Msg(orjson.dumps(e), i, partition=partition) for i, e in enumerate(events)]
        prepared, dead = self.proc.prepare(msgs, self.catalog)
        return await self.proc.commit(conn, prepared, dead, {("in", partition): (None, len(msgs))})


async def _outcomes(conn: asyncpg.Connection, partition: int) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT payload FROM outbox WHERE topic = 'out' ORDER BY seq")
    found = [orjson.loads(r["payload"])["data"] for r in rows]
    return [o for o in found if o["source"]["partition"] == partition]


async def _waits_on_a_lock(observer: asyncpg.Connection, pid: int, task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` (on backend ``pid``) is waiting on an advisory lock; False once it finished."""
    deadline = time.monotonic() + 10
    while not task.done() and time.monotonic() < deadline:
        wait = await observer.fetchval("SELECT wait_event FROM pg_stat_activity WHERE pid = $1", pid)
        if wait == "advisory":
            return True
        await asyncio.sleep(0.02)
    return False


async def _race(dsn: str, batches: Batches, first: list[dict[str, Any]], second: list[dict[str, Any]]) -> bool:
    """A commits ``first`` in a transaction held open while B commits ``second``; whether B waited."""
    a, b, observer = await store_db.connect(dsn), await store_db.connect(dsn), await store_db.connect(dsn)
    try:
        held = a.transaction()
        await held.start()
        await batches.commit(a, 0, first)
        task = asyncio.create_task(batches.commit(b, 1, second))
        waited = await _waits_on_a_lock(observer, b.get_server_pid(), task)
        await held.commit()
        await task
        return waited
    finally:
        for c in (a, b, observer):
            await c.close()


async def test_a_second_writer_of_a_new_contact_waits_and_merges(dsn: str, conn: asyncpg.Connection) -> None:
    batches = Batches()
    first = [contacts_event("t", [contact("new", attributes={"a": 1})], campaign="c", event_id="e-a")]
    second = [contacts_event("t", [contact("new", attributes={"b": 2})], campaign="c", event_id="e-b")]
    assert await _race(dsn, batches, first, second)
    [a] = await _outcomes(conn, 0)
    [b] = await _outcomes(conn, 1)
    assert (a["status"], a["version"], b["status"], b["version"]) == ("ADDED", 1, "UPDATED", 2)
    row = await conn.fetchrow("SELECT version, data FROM customers WHERE user_data = 'new'")
    assert row["version"] == 2 and row["data"]["attributes"] == {"a": 1, "b": 2}
    assert await conn.fetchval("SELECT count(*) FROM campaign_records") == 1


async def test_batches_on_other_contacts_do_not_wait(dsn: str, conn: asyncpg.Connection) -> None:
    batches = Batches()
    first = [contacts_event("t", [contact("x1"), contact("x2")], campaign="c", event_id="e-a")]
    second = [contacts_event("t", [contact("y1"), contact("y2")], campaign="c", event_id="e-b")]
    assert not await _race(dsn, batches, first, second)
    assert await conn.fetchval("SELECT count(*) FROM customers") == 4


async def test_a_do_not_call_number_added_meanwhile_never_stays_on_a_dial_list(
    dsn: str, conn: asyncpg.Connection
) -> None:
    """Adding a number takes it off every dial list: a contact batch in flight that queues the number
    must finish first, so that the number is taken off its entries too."""
    await dnc.add_list(conn, "t", "complaints", None)
    batches = Batches()
    first = [contacts_event("t", [contact("u1", phone="+4930111")], campaign="c", event_id="e-a")]
    add = {"tenant": "t", "list": "complaints", "add": [{"number": "+4930111"}]}
    second = [cloudevent(add, dialect="dnc.v1", event_id="d-1")]
    assert await _race(dsn, batches, first, second)
    assert await conn.fetchval("SELECT count(*) FROM dnc_numbers WHERE phone = '+4930111'") == 1
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE phone = '+4930111'") == 0


async def test_a_phone_match_sees_the_contact_a_batch_in_flight_adds(dsn: str, conn: asyncpg.Connection) -> None:
    """Records without UserData in a campaign matching on the phone: the second finds the contact the
    first adds (through a phone they share) instead of adding another one."""
    batches = Batches(PHONE_MATCH)
    both = {"phones": [{"number": "+4930111"}, {"number": "+4930222"}], "name": "A"}
    first = [contacts_event("t", [both], campaign="c", event_id="e-a")]
    second = [contacts_event("t", [{"phones": [{"number": "+4930222"}], "name": "B"}], campaign="c", event_id="e-b")]
    assert await _race(dsn, batches, first, second)
    [b] = await _outcomes(conn, 1)
    assert (b["status"], b["version"], b["details"]["match"]["user_data"]) == ("UPDATED", 2, "+4930111")
    assert await conn.fetchval("SELECT array_agg(user_data) FROM customers") == ["+4930111"]


async def test_the_locks_are_taken_in_key_order(conn: asyncpg.Connection) -> None:
    """The lock function is volatile, so Postgres evaluates it above the sort, one key after another
    in ascending order — the order that keeps two batches from waiting on each other in a cycle."""
    args = keylocks.Plan((3, 1, 2), False).arguments()
    [explained] = await conn.fetchval(f"EXPLAIN (VERBOSE, FORMAT JSON) {keylocks.LOCK_SQL}", *args)
    top = explained["Plan"]
    [below] = top["Plans"]
    assert top["Node Type"] == "Result" and "pg_advisory_xact_lock(k)" in top["Output"][0]
    assert below["Node Type"] == "Sort" and below["Sort Key"] == ["k.k"] and below["Output"] == ["k"]
