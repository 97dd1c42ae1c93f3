"""An import step that clashes with another transaction (a deadlock, a serialization failure, a lock
wait timed out) is tried again at once with the same rows; Postgres being away is left to the lease."""

from __future__ import annotations

import asyncio
from typing import cast

import asyncpg
import pytest

from service.catalog.model import Catalog
from service.config import Settings
from service.dialects import default_registry
from service.errors import TransientError
from service.imports.execution import CONFLICT_TRIES, JobExecution
from service.model.envelope import Envelope
from service.model.job import ImportRequest
from service.model.records import Parsed, Rejected
from service.store.db import is_conflict, translated
from tests.jobs import job_for

ENV = Envelope(
    event_id="imp", event_source="tests", dialect="importws", data=None, topic="in", partition=0, offset=0,
    timestamp_ms=0, key=None, tenant="t",
)  # fmt: skip


class Clashing(JobExecution):
    """A run whose first ``clashes`` steps fail with ``error``; records the rows of every try."""

    def __init__(self, error: BaseException, clashes: int) -> None:
        settings = Settings(retry_initial_s=0.001, retry_max_s=0.001)
        job = job_for(ENV, ImportRequest(tenant="t", campaign="c", source_kind="http", format="csv", url="http://x"))
        dialect = default_registry(settings.schema_dir).get("importws")
        pool = cast(asyncpg.Pool, None)  # never used: _commit is replaced
        super().__init__(settings, pool, dialect, Catalog(), job, "me", asyncio.Event(), lambda: None)
        self.error, self.clashes = error, clashes
        self.tries: list[list[int]] = []

    async def _commit(self, items: list[tuple[int, Parsed]], final: bool = False) -> None:
        self.tries.append([n for n, _ in items])
        if len(self.tries) <= self.clashes:
            async with translated():
                raise self.error


def _rows() -> list[tuple[int, Parsed]]:
    return [(n, Parsed(Rejected([]))) for n in (2, 3)]


@pytest.mark.parametrize(
    "error", [asyncpg.DeadlockDetectedError(""), asyncpg.SerializationError(""), asyncpg.LockNotAvailableError("")]
)
async def test_a_clash_is_retried_with_the_same_rows(error: BaseException) -> None:
    run = Clashing(error, clashes=2)
    await run._step(_rows())
    assert run.tries == [[2, 3]] * 3


async def test_a_clash_every_time_is_left_to_the_lease() -> None:
    run = Clashing(asyncpg.DeadlockDetectedError(""), clashes=CONFLICT_TRIES)
    with pytest.raises(TransientError) as raised:
        await run._step(_rows())
    assert is_conflict(raised.value) and len(run.tries) == CONFLICT_TRIES


async def test_postgres_away_is_not_retried_in_place() -> None:
    run = Clashing(asyncpg.CannotConnectNowError(""), clashes=1)
    with pytest.raises(TransientError) as raised:
        await run._step(_rows())
    assert not is_conflict(raised.value) and run.tries == [[2, 3]]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.AdminShutdownError(""),
    ],
)
async def test_a_connection_broken_mid_operation_is_transient(error: BaseException) -> None:
    """A batch whose connection broke (Postgres away mid-commit) is retried, never crashes the consumer."""
    with pytest.raises(TransientError) as caught:
        async with translated():
            raise error
    assert caught.value.__cause__ is error and not is_conflict(caught.value)
