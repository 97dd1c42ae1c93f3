"""Connection pool and the one place asyncpg/OS errors are translated into service errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

from service.errors import TransientError

# Errors that mean "Postgres is not reachable right now", not "this batch is wrong".
_TRANSIENT = (
    OSError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    # the driver's state of a connection interrupted mid-operation ("cannot switch to state …; another
    # operation is in progress", seen when Postgres goes away during a commit): the pool discards the
    # connection on release, and the batch is tried again on another
    asyncpg.InternalClientError,
    TimeoutError,
)


async def create_pool(dsn: str, size: int, server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
    """A pool that may start while Postgres is still down: connections are made lazily.
    ``server_settings``: session settings of every connection (``Settings.pg_server_settings``)."""
    return await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=size,
        command_timeout=60,
        init=_init,
        reset=_keep_session,
        server_settings=server_settings,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (``RESET ALL``, ``UNLISTEN *``, advisory unlock):
    one round trip on every release, for session state the service never leaves on a pooled
    connection (its advisory locks are transaction-scoped; the migrator's session lock is taken on a
    connection of its own). asyncpg still rolls back a transaction left open before calling this."""


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn connection-level failures into :class:`TransientError` at the boundary."""
    try:
        yield
    except asyncpg.DataError:
        raise  # a value the driver cannot encode: the data's fault, not the database's
    except _TRANSIENT as exc:
        raise TransientError(f"database unavailable: {type(exc).__name__}") from exc
    except asyncpg.PostgresError as exc:
        if exc.sqlstate and (exc.sqlstate[:2] in {"08", "53", "57", "40"} or exc.sqlstate in _RETRIED):
            raise TransientError(f"database unavailable: {exc.sqlstate}") from exc
        raise


_CONFLICTS = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock wait timed out
# and the server ended a transaction left idle too long (idle_in_transaction_session_timeout): the
# connection is gone, the transaction rolled back, so the batch is retried on another connection
_RETRIED = _CONFLICTS | {"25P03"}


def is_conflict(exc: BaseException) -> bool:
    """Whether a :class:`TransientError` came from a clash with another transaction (a deadlock, a
    serialization failure, a lock wait that timed out) rather than from Postgres being away: the
    transaction can be retried at once."""
    cause = exc.__cause__
    return isinstance(exc, TransientError) and getattr(cause, "sqlstate", None) in _CONFLICTS


async def _init(conn: asyncpg.Connection) -> None:
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(
            typ, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def connect(dsn: str, connection_class: type[asyncpg.Connection] = asyncpg.Connection) -> asyncpg.Connection:
    """One connection with the service's codecs (CLI tools, tests and benchmarks)."""
    conn = await asyncpg.connect(dsn, connection_class=connection_class)
    await _init(conn)
    return conn
