"""A transaction left open by a frozen replica is ended by the server, and what it held is free again.

The pool's connections carry idle_in_transaction_session_timeout and lock_timeout from the settings.
The shipped defaults are 30 s and 10 s; this test sets 1 s and 0.2 s itself so that it does not wait
half a minute: what it proves (the server ends the frozen transaction, its offset row lock is
released, the waiter's and the frozen side's errors are transient ones that are retried) does not
depend on the length.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from service.config import Settings
from service.errors import TransientError
from service.store import db as store_db
from service.store import offsets


async def _backend_gone(conn: asyncpg.Connection, pid: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
        assert time.monotonic() < deadline, "the server did not end the idle transaction"
        await asyncio.sleep(0.1)


async def test_the_server_ends_a_frozen_transaction_and_frees_its_offset_rows(
    settings: Settings, conn: asyncpg.Connection
) -> None:
    s = settings.model_copy(update={"pg_idle_in_transaction_timeout_s": 1.0, "pg_lock_timeout_s": 0.2})
    pool = await store_db.create_pool(s.database_url.get_secret_value(), 2, s.pg_server_settings())
    try:
        async with pool.acquire() as other:
            assert await other.fetchval("SHOW lock_timeout") == "200ms"
            assert await other.fetchval("SHOW idle_in_transaction_session_timeout") == "1s"
        # the frozen side on a connection of its own with the same settings (a pooled one is detached
        # by the pool once the server closes it, which would hide the server's answer)
        frozen = await asyncpg.connect(s.database_url.get_secret_value(), server_settings=s.pg_server_settings())
        tx = frozen.transaction()
        await tx.start()
        await offsets.advance(frozen, s.group_id, s.input_topic, {0: (None, 5)})  # holds the row's lock
        pid = frozen.get_server_pid()

        # another owner's batch waits for the row: lock_timeout ends the wait with a transient error
        with pytest.raises(TransientError):
            async with store_db.translated(), pool.acquire() as waiter, waiter.transaction():
                await offsets.advance(waiter, s.group_id, s.input_topic, {0: (None, 9)})

        # the frozen side does nothing more; the server ends its transaction and its session
        await _backend_gone(conn, pid)
        async with store_db.translated(), pool.acquire() as waiter, waiter.transaction():
            await offsets.advance(waiter, s.group_id, s.input_topic, {0: (None, 9)})
        assert await offsets.stored(conn, s.group_id, s.input_topic, [0]) == {0: 9}

        # when it wakes up, its next statement fails as a transient error (the batch is re-read)
        with pytest.raises(TransientError) as ended:
            async with store_db.translated():
                await offsets.advance(frozen, s.group_id, s.input_topic, {0: (5, 6)})
        # asyncpg has read the server's FATAL 25P03 and closed the connection (or raises 25P03 itself)
        cause = ended.value.__cause__
        assert isinstance(cause, asyncpg.InterfaceError) or getattr(cause, "sqlstate", None) == "25P03", cause
        await frozen.close()
    finally:
        await pool.close()
