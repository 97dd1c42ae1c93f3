"""Failed logins per (tenant, login), shared by every replica: too many within a window lock the login.

The rows of the batch's logins are locked in key order (no deadlock between replicas), the attempts
are applied in batch order in memory, and the changed rows are written back. Postgres's ``now()``
is the clock, so replicas agree on windows and locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from service.model.records import Login

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Row:
    failures: int
    window_start: datetime
    locked_until: datetime | None
    dirty: bool = False
    just_locked: bool = False


async def attempt(
    conn: asyncpg.Connection, logins: list[Login], *, max_failures: int, window_s: float, lock_s: float
) -> list[bool]:
    """Apply the attempts in order; for each, whether it is let in (right credential, not locked).

    While a login is locked its attempts fail and are not counted; a success resets the count;
    ``max_failures`` of 0 turns the throttle off (failures are still not let in). A successful
    login with a legacy password hash stores its argon2id re-hash.
    """
    if max_failures <= 0:
        await _rehash(conn, [a for a in logins if a.ok])
        return [a.ok for a in logins]
    keys = sorted({(a.tenant, a.login) for a in logins})
    tenants, names = [k[0] for k in keys], [k[1] for k in keys]
    await conn.execute(
        "INSERT INTO login_failures (tenant, login) SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT DO NOTHING",
        tenants,
        names,
    )
    rows = await conn.fetch(
        "SELECT f.tenant, f.login, f.failures, f.window_start, f.locked_until, now() AS now FROM login_failures f"
        " JOIN unnest($1::text[], $2::text[]) AS k(t, l) ON f.tenant = k.t AND f.login = k.l"
        " ORDER BY f.tenant, f.login FOR UPDATE OF f",
        tenants,
        names,
    )
    state = {(r["tenant"], r["login"]): _Row(r["failures"], r["window_start"], r["locked_until"]) for r in rows}
    now: datetime = rows[0]["now"]
    window, lock = timedelta(seconds=window_s), timedelta(seconds=lock_s)
    let_in = [_one(state[(a.tenant, a.login)], a.ok, now, window, lock, max_failures) for a in logins]
    for (tenant, login), r in state.items():
        if r.just_locked:
            log.warning("login locked after repeated failures", tenant=tenant, login=login, until=r.locked_until)
    dirty = [(k, r) for k, r in state.items() if r.dirty]
    if dirty:
        await conn.execute(
            "UPDATE login_failures f SET failures = x.n, window_start = x.w, locked_until = x.l, updated_at = now()"
            " FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[]) AS x(t, u, n, w, l)"
            " WHERE f.tenant = x.t AND f.login = x.u",
            [k[0] for k, _ in dirty],
            [k[1] for k, _ in dirty],
            [r.failures for _, r in dirty],
            [r.window_start for _, r in dirty],
            [r.locked_until for _, r in dirty],
        )
    await _rehash(conn, [a for a, ok in zip(logins, let_in, strict=True) if ok])
    return let_in


def _one(row: _Row, ok: bool, now: datetime, window: timedelta, lock: timedelta, max_failures: int) -> bool:
    if row.locked_until is not None:
        if row.locked_until > now:
            return False
        row.locked_until, row.failures, row.dirty = None, 0, True
    if ok:
        if row.failures:
            row.failures, row.dirty = 0, True
        return True
    if row.failures == 0 or now - row.window_start > window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= max_failures:
        row.locked_until, row.failures, row.just_locked = now + lock, 0, True
    row.dirty = True
    return False


async def _rehash(conn: asyncpg.Connection, logins: list[Login]) -> None:
    """Replace legacy password hashes of users who just logged in (only the hash they logged in with)."""
    changes = {(a.tenant, a.login, a.stored_hash): a.rehash for a in logins if a.rehash and a.stored_hash}
    if not changes:
        return
    await conn.execute(
        "UPDATE tenant_users u SET password_hash = x.h"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(t, l, o, h)"
        " WHERE u.tenant = x.t AND u.login = x.l AND u.password_hash = x.o",
        [k[0] for k in changes],
        [k[1] for k in changes],
        [k[2] for k in changes],
        list(changes.values()),
    )


async def expire(conn: asyncpg.Connection, older_than_s: float) -> int:
    """Forget counts not touched for ``older_than_s`` whose lock (if any) is over."""
    status: str = await conn.execute(
        "DELETE FROM login_failures WHERE updated_at < now() - make_interval(secs => $1)"
        " AND (locked_until IS NULL OR locked_until < now())",
        older_than_s,
    )
    return int(status.split()[-1])
