"""Apply canonical records to customers, campaign membership and the dial list, in batches.

Sequential semantics with batch I/O: the current rows of every key in the batch are read (and
locked) in one query, the records are applied in order in memory — so a batch holding the same key
twice gives the same outcomes as applying the records one by one — and only the final state of
each changed key is written back, one statement per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from service.model.contact import ContactRecord, WriteMode, content_hash, merge, snapshot
from service.model.outcome import Status

MEMBER_FIELDS = ("status", "agent", "priority", "next_call_at", "window_begin", "window_end")


@dataclass(slots=True)
class Applied:
    status: Status
    contact: dict[str, Any]
    version: int
    dial_list: list[dict[str, Any]]


@dataclass(slots=True)
class _Customer:
    data: dict[str, Any]
    hash: str
    version: int
    dirty: bool = False


@dataclass(slots=True)
class _Member:
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
    dirty: bool = False


def _split(snap: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    member = {k: snap.pop(k) for k in MEMBER_FIELDS if k in snap}
    return snap, member


def _dial_entries(customer: dict[str, Any], member: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for phone in customer.get("phones", []):
        entry = {"phone": phone["number"]}
        priority = phone.get("priority", member.get("priority"))
        if priority is not None:
            entry["priority"] = priority
        for src, dst in (("type", "phone_type"), ("dial_at", "dial_at"), ("delay_s", "delay_s")):
            if src in phone:
                entry[dst] = phone[src]
        entries.append(entry)
    return entries


async def _load(
    conn: asyncpg.Connection, records: list[ContactRecord]
) -> tuple[dict[tuple[str, str], _Customer], dict[tuple[str, str, str], _Member]]:
    keys = sorted({(r.tenant, r.contact.user_data) for r in records})
    rows = await conn.fetch(
        "SELECT c.tenant, c.user_data, c.data, c.content_hash, c.version FROM customers c"
        " JOIN unnest($1::text[], $2::text[]) AS k(t, u) ON c.tenant = k.t AND c.user_data = k.u"
        " ORDER BY c.tenant, c.user_data FOR UPDATE OF c",
        *_columns(keys, 2),
    )
    customers = {(r["tenant"], r["user_data"]): _Customer(r["data"], r["content_hash"], r["version"]) for r in rows}
    mkeys = sorted({(r.tenant, r.campaign, r.contact.user_data) for r in records})
    mrows = await conn.fetch(
        "SELECT m.tenant, m.campaign, m.user_data, m.status, m.agent, m.priority, m.next_call_at,"
        " m.window_begin, m.window_end FROM campaign_records m"
        " JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(t, c, u)"
        " ON m.tenant = k.t AND m.campaign = k.c AND m.user_data = k.u",
        *_columns(mkeys, 3),
    )
    members = {}
    for r in mrows:
        data = {k: r[k] for k in MEMBER_FIELDS if r[k] is not None}
        for k in ("next_call_at", "window_begin", "window_end"):
            if k in data:
                data[k] = data[k].isoformat().replace("+00:00", "Z")
        members[(r["tenant"], r["campaign"], r["user_data"])] = _Member(data, exists=True)
    return customers, members


def _apply_one(record: ContactRecord, cust: _Customer | None, member: _Member) -> tuple[Status, _Customer | None]:
    incoming_c, incoming_m = _split(snapshot(record.contact))
    mode = record.policy.mode
    if cust is None:
        cust = _Customer(incoming_c, content_hash(incoming_c), 1, dirty=True)
        member.data, member.dirty = incoming_m, True
        return Status.ADDED, cust
    if mode is WriteMode.INSERT_ONLY:
        return Status.ALREADY_EXISTS, cust
    new_c = merge(cust.data, incoming_c, mode)
    new_m = incoming_m if mode is WriteMode.REPLACE else {**member.data, **incoming_m}
    new_hash = content_hash(new_c)
    changed = False
    if new_hash != cust.hash:
        cust = _Customer(new_c, new_hash, cust.version + 1, dirty=True)
        changed = True
    if new_m != member.data or not member.exists:
        member.data, member.dirty = new_m, True
        changed = True
    return (Status.UPDATED if changed else Status.UNCHANGED), cust


async def apply(conn: asyncpg.Connection, records: list[ContactRecord], write: bool = True) -> list[Applied]:
    """Apply ``records`` in order; with ``write`` false (dry run) compute outcomes only."""
    if not records:
        return []
    customers, members = await _load(conn, records)
    results: list[Applied] = []
    touched: dict[tuple[str, str, str], None] = {}
    for rec in records:
        ckey = (rec.tenant, rec.contact.user_data)
        mkey = (rec.tenant, rec.campaign, rec.contact.user_data)
        member = members.setdefault(mkey, _Member())
        if rec.policy.dry_run:
            # a dry run sees the batch's state so far but leaves no trace on it
            shadow = _Member(dict(member.data), member.exists)
            status, cust = _apply_one(rec, customers.get(ckey), shadow)
            assert cust is not None
            results.append(_applied(status, rec, cust, shadow))
            continue
        status, cust = _apply_one(rec, customers.get(ckey), member)
        assert cust is not None
        customers[ckey] = cust
        if status in (Status.ADDED, Status.UPDATED):
            touched[mkey] = None
        results.append(_applied(status, rec, cust, member))
    if write:
        await _write(conn, customers, members, list(touched))
    return results


def _applied(status: Status, rec: ContactRecord, cust: _Customer, member: _Member) -> Applied:
    contact = {**cust.data, **member.data, "campaign": rec.campaign}
    return Applied(status, contact, cust.version, _dial_entries(cust.data, member.data))


async def _write(
    conn: asyncpg.Connection,
    customers: dict[tuple[str, str], _Customer],
    members: dict[tuple[str, str, str], _Member],
    touched: list[tuple[str, str, str]],
) -> None:
    dirty = [(k, c) for k, c in customers.items() if c.dirty]
    if dirty:
        await conn.execute(
            "INSERT INTO customers (tenant, user_data, data, content_hash, version)"
            " SELECT t, u, d::jsonb, h, v FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])"
            " AS x(t, u, d, h, v)"
            " ON CONFLICT (tenant, user_data) DO UPDATE SET data = EXCLUDED.data,"
            " content_hash = EXCLUDED.content_hash, version = EXCLUDED.version, updated_at = now()",
            *_columns([k for k, _ in dirty], 2),
            [orjson.dumps(c.data).decode() for _, c in dirty],
            [c.hash for _, c in dirty],
            [c.version for _, c in dirty],
        )
    mdirty = [(k, m.data) for k, m in members.items() if m.dirty]
    if mdirty:
        cols = _columns([k for k, _ in mdirty], 3)
        vals = [[d.get(f) for _, d in mdirty] for f in MEMBER_FIELDS]
        await conn.execute(
            "INSERT INTO campaign_records (tenant, campaign, user_data, status, agent, priority,"
            " next_call_at, window_begin, window_end)"
            " SELECT t, c, u, s, a, p, n::timestamptz, wb::timestamptz, we::timestamptz FROM unnest("
            " $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],"
            " $8::text[], $9::text[]) AS x(t, c, u, s, a, p, n, wb, we)"
            " ON CONFLICT (tenant, campaign, user_data) DO UPDATE SET status = EXCLUDED.status,"
            " agent = EXCLUDED.agent, priority = EXCLUDED.priority, next_call_at = EXCLUDED.next_call_at,"
            " window_begin = EXCLUDED.window_begin, window_end = EXCLUDED.window_end, updated_at = now()",
            *cols,
            *vals,
        )
    if touched:
        await _write_dial_list(conn, customers, members, touched)


async def _write_dial_list(
    conn: asyncpg.Connection,
    customers: dict[tuple[str, str], _Customer],
    members: dict[tuple[str, str, str], _Member],
    touched: list[tuple[str, str, str]],
) -> None:
    """The dial list of each touched membership mirrors the contact's current phones."""
    keep: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for t, c, u in touched:
        for entry in _dial_entries(customers[(t, u)].data, members[(t, c, u)].data):
            keep[(t, c, u, entry["phone"])] = entry
    await conn.execute(
        "DELETE FROM dial_list d USING unnest($1::text[], $2::text[], $3::text[]) AS k(t, c, u)"
        " WHERE d.tenant = k.t AND d.campaign = k.c AND d.user_data = k.u"
        " AND (d.tenant, d.campaign, d.user_data, d.phone) NOT IN"
        " (SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]))",
        *_columns(touched, 3),
        *_columns(list(keep), 4),
    )
    if not keep:
        return
    entries = list(keep.values())
    await conn.execute(
        "INSERT INTO dial_list (tenant, campaign, user_data, phone, phone_type, priority, dial_at, delay_s)"
        " SELECT t, c, u, p, ty, pr, da::timestamptz, ds FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::int[], $7::text[], $8::int[]) AS x(t, c, u, p, ty, pr, da, ds)"
        " ON CONFLICT (tenant, campaign, user_data, phone) DO UPDATE SET phone_type = EXCLUDED.phone_type,"
        " priority = EXCLUDED.priority, dial_at = EXCLUDED.dial_at, delay_s = EXCLUDED.delay_s",
        *_columns(list(keep), 4),
        *[[e.get(f) for e in entries] for f in ("phone_type", "priority", "dial_at", "delay_s")],
    )


def _columns(rows: Sequence[tuple[str, ...]], width: int) -> list[list[str]]:
    """Transpose key tuples into the per-column arrays ``unnest`` takes."""
    return [[r[i] for r in rows] for i in range(width)]
