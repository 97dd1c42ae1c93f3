"""The import_jobs table on a real Postgres: concurrent claims take each due job once, a job whose lease
ran out is taken over, a finished or future job is never claimed, lookups and cancels are per tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState
from service.store import db, jobs
from service.store.jobs import Job

NOW = datetime.now(UTC)


async def _job(conn: asyncpg.Connection, n: int, *, due: datetime = NOW, tenant: str = "acme") -> Job:
    env = Envelope(f"e-{n}", "crm", "importws", {}, "in", 0, n, 0, None, tenant)
    req = ImportRequest(tenant, "C1", "http", "csv", url=f"http://files/{n}.csv")
    return await jobs.create(conn, f"job-{n}", "importws", req, sealed=None, due_at=due, max_rows=10, env=env)


async def test_concurrent_claims_take_each_due_job_exactly_once(dsn: str, conn: asyncpg.Connection) -> None:
    for n in range(20):
        await _job(conn, n)
    await _job(conn, 99, due=NOW + timedelta(hours=1))  # not due
    replicas = [await db.connect(dsn) for _ in range(4)]
    try:

        async def claim_all(c: asyncpg.Connection, owner: str) -> list[str]:
            taken = []
            while (job := await jobs.claim(c, owner, 60)) is not None:
                taken.append(job.id)
            return taken

        results = await asyncio.gather(*(claim_all(c, f"r{i}") for i, c in enumerate(replicas)))
    finally:
        for c in replicas:
            await c.close()
    claimed = [j for r in results for j in r]
    assert sorted(claimed) == sorted(f"job-{n}" for n in range(20))  # each due job once, the future one never
    future = await jobs.get(conn, "job-99")
    assert future is not None and future.state is JobState.SCHEDULED


async def test_an_expired_lease_is_taken_over_and_the_old_owner_is_fenced(conn: asyncpg.Connection) -> None:
    await _job(conn, 1)
    first = await jobs.claim(conn, "dead-replica", 60)
    assert first is not None and first.attempts == 1
    assert await jobs.claim(conn, "other", 60) is None  # leased
    await conn.execute("UPDATE import_jobs SET lease_expires_at = now() - interval '1 second'")
    taken = await jobs.claim(conn, "other", 60)
    assert taken is not None and taken.id == first.id and taken.attempts == 2 and taken.lease_owner == "other"
    async with conn.transaction():
        assert await jobs.hold(conn, first.id, "dead-replica") is None  # its next step writes nothing
        assert await jobs.hold(conn, first.id, "other") is JobState.RUNNING
    done = await jobs.finish(conn, first.id, JobState.COMPLETED)
    assert done.lease_owner is None and await jobs.claim(conn, "third", 60) is None


async def test_lookups_and_cancels_are_per_tenant(conn: asyncpg.Connection) -> None:
    a = await _job(conn, 1, tenant="a")
    await _job(conn, 2, tenant="b")
    assert await jobs.get(conn, a.id, "b") is None and await jobs.cancel(conn, a.id, "b") is None
    assert [j.id for j in await jobs.find(conn, tenant="b")] == ["job-2"]
    unchanged = await jobs.get(conn, a.id, "a")
    assert unchanged is not None and unchanged.state is JobState.SCHEDULED
    cancelled = await jobs.cancel(conn, a.id, "a")
    assert cancelled is not None and cancelled.state is JobState.CANCELLED and cancelled.finished_at is not None
    assert await jobs.claim(conn, "r", 60) is not None  # only b's job is left to claim
    assert await jobs.claim(conn, "r", 60) is None
