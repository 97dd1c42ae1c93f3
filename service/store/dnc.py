"""Do-not-call lists: the numbers that must never reach a dial list.

A list belongs to a tenant, or is global (tenant ``''``); each number is in E.164 with an optional
expiry. Adding a number also takes it off the existing dial lists it covers (the tenant's, or every
tenant's for a global list). Lookups and changes work on a whole batch: one statement each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.errors import ErrorDetail
from service.model.dnc import GLOBAL, DncAction, DncChange
from service.model.outcome import Status
from service.store import keylocks

LIST_UNKNOWN = "dnc.list_unknown"


@dataclass(frozen=True, slots=True)
class Hit:
    """A number found on a list: which list, whose (``None``: global)."""

    phone: str
    tenant: str | None
    list: str

    def as_json(self) -> dict[str, Any]:
        return {"phone": self.phone, "list": self.list, "tenant": self.tenant}


async def lookup(
    conn: asyncpg.Connection, tenants: Iterable[str], phones: Iterable[str]
) -> dict[tuple[str, str], list[Hit]]:
    """The unexpired entries of ``phones`` on the lists of ``tenants`` and the global lists, by
    (tenant, phone); the global lists' under tenant ``GLOBAL``."""
    numbers = sorted(set(phones))
    if not numbers:
        return {}
    rows = await conn.fetch(
        "SELECT tenant, list, phone FROM dnc_numbers WHERE phone = ANY($1::text[])"
        " AND tenant = ANY($2::text[]) AND (expires_at IS NULL OR expires_at > now()) ORDER BY tenant, list",
        numbers,
        sorted({*tenants, GLOBAL}),
    )
    out: dict[tuple[str, str], list[Hit]] = {}
    for r in rows:
        out.setdefault((r["tenant"], r["phone"]), []).append(Hit(r["phone"], r["tenant"] or None, r["list"]))
    return out


def hits_for(found: dict[tuple[str, str], list[Hit]], tenant: str, phone: str) -> list[Hit]:
    return [*found.get((tenant, phone), ()), *found.get((GLOBAL, phone), ())]


@dataclass(slots=True)
class DncApplied:
    status: Status
    details: dict[str, Any]
    errors: list[ErrorDetail]


async def apply(conn: asyncpg.Connection, changes: list[DncChange]) -> list[DncApplied]:
    """Apply changes in order (dry-run ones computed only): one read and at most three writes."""
    if not changes:
        return []
    lists = {
        (r["tenant"], r["list"])
        for r in await conn.fetch(
            "SELECT tenant, list FROM dnc_lists WHERE tenant = ANY($1::text[])", sorted({c.tenant for c in changes})
        )
    }
    rows = await conn.fetch(
        "SELECT tenant, list, phone, expires_at FROM dnc_numbers WHERE phone = ANY($1::text[])",
        sorted({c.phone for c in changes}),
    )
    state: dict[tuple[str, str, str], datetime | None] = {
        (r["tenant"], r["list"], r["phone"]): r["expires_at"] for r in rows
    }
    final: dict[tuple[str, str, str], tuple[bool, datetime | None]] = {}  # key -> (present, expiry)
    out: list[DncApplied] = []
    for c in changes:
        key = (c.tenant, c.list, c.phone)
        details: dict[str, Any] = {"list": c.list, "phone": c.phone, "global": c.tenant == GLOBAL}
        if (c.tenant, c.list) not in lists:
            error = ErrorDetail(LIST_UNKNOWN, "/list", f"no do-not-call list {c.list[:64]!r} for this tenant")
            out.append(DncApplied(Status.FAILED, details, [error]))
            continue
        present = key in state
        if c.action is DncAction.REMOVE:
            status = Status.REMOVED if present else Status.UNCHANGED
            if present and not c.dry_run:
                state.pop(key)
                final[key] = (False, None)
        else:
            if c.expires_at is not None:
                details["expires_at"] = c.expires_at.isoformat()
            status = Status.ADDED if not present else Status.UNCHANGED if state[key] == c.expires_at else Status.UPDATED
            if status is not Status.UNCHANGED and not c.dry_run:
                state[key] = c.expires_at
                final[key] = (True, c.expires_at)
        out.append(DncApplied(status, details, []))
    await _write(conn, final)
    return out


async def _write(conn: asyncpg.Connection, final: dict[tuple[str, str, str], tuple[bool, datetime | None]]) -> None:
    gone = [k for k, (present, _) in final.items() if not present]
    kept = [(k, exp) for k, (present, exp) in final.items() if present]
    if gone:
        await conn.execute(
            "DELETE FROM dnc_numbers d USING unnest($1::text[], $2::text[], $3::text[]) AS k(t, l, p)"
            " WHERE d.tenant = k.t AND d.list = k.l AND d.phone = k.p",
            *[[k[i] for k in gone] for i in range(3)],
        )
    if kept:
        await add_numbers(conn, [(*k, exp) for k, exp in kept])


async def add_numbers(conn: asyncpg.Connection, rows: list[tuple[str, str, str, datetime | None]]) -> int:
    """Upsert (tenant, list, phone, expiry) rows and take the numbers off the dial lists they cover;
    returns how many dial-list entries went. A number given twice for a list (a file may hold both its
    national and international form) is written once, with the last expiry given."""
    rows = list({r[:3]: r for r in rows}.values())
    await keylocks.take_whole(conn)  # no contact batch in flight may queue one of the numbers meanwhile
    await conn.execute(
        "INSERT INTO dnc_numbers (tenant, list, phone, expires_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])"
        " ON CONFLICT (tenant, list, phone) DO UPDATE SET expires_at = EXCLUDED.expires_at, added_at = now()",
        *[[r[i] for r in rows] for i in range(4)],
    )
    live = [r for r in rows if r[3] is None or r[3] > datetime.now(r[3].tzinfo)]
    if not live:
        return 0
    status: str = await conn.execute(
        "DELETE FROM dial_list d USING unnest($1::text[], $2::text[]) AS k(t, p)"
        " WHERE d.phone = k.p AND (k.t = '' OR d.tenant = k.t)",
        [r[0] for r in live],
        [r[2] for r in live],
    )
    return int(status.split()[-1])


async def add_list(conn: asyncpg.Connection, tenant: str, name: str, description: str | None) -> None:
    await conn.execute(
        "INSERT INTO dnc_lists (tenant, list, description) VALUES ($1, $2, $3)"
        " ON CONFLICT (tenant, list) DO UPDATE SET description = EXCLUDED.description",
        tenant,
        name,
        description,
    )


async def list_exists(conn: asyncpg.Connection, tenant: str, name: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM dnc_lists WHERE tenant = $1 AND list = $2", tenant, name))


async def remove_numbers(conn: asyncpg.Connection, tenant: str, name: str, phones: list[str]) -> int:
    status: str = await conn.execute(
        "DELETE FROM dnc_numbers WHERE tenant = $1 AND list = $2 AND phone = ANY($3::text[])", tenant, name, phones
    )
    return int(status.split()[-1])


async def show(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    lists = await conn.fetch("SELECT tenant, list, description FROM dnc_lists ORDER BY tenant, list")
    numbers = await conn.fetch("SELECT tenant, list, phone, expires_at FROM dnc_numbers ORDER BY phone")
    return [
        {
            "tenant": r["tenant"] or None,
            "list": r["list"],
            "description": r["description"],
            "numbers": [
                {"phone": n["phone"], "expires_at": n["expires_at"].isoformat() if n["expires_at"] else None}
                for n in numbers
                if (n["tenant"], n["list"]) == (r["tenant"], r["list"])
            ],
        }
        for r in lists
    ]
