"""Apply canonical records to customers, campaign membership and the dial list, in batches.

Sequential semantics with batch I/O: the current rows of every customer in the batch (and all its
campaign memberships) are read and locked in one query per table, the records are applied in
order in memory — so a batch holding the same key twice gives the same outcomes as applying the
records one by one — and only the final state is written back, one statement per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from service.errors import ErrorDetail
from service.model.contact import (
    ChangePackage,
    ContactRecord,
    DialListMode,
    MatchOn,
    MatchPolicy,
    MatchScope,
    MemberMode,
    WriteMode,
    content_hash,
    merge,
    snapshot,
)
from service.model.outcome import Status
from service.store import dnc

MEMBER_FIELDS = (
    "status", "dictionary_status", "agent", "priority", "next_call_at", "window_begin", "window_end",
    "next_call_zone", "window_zone",
)  # fmt: skip
DIAL_FIELDS = (
    ("type", "phone_type"), ("dial_at", "dial_at"), ("delay_s", "delay_s"), ("time_zones", "time_zones"),
    ("dial_zone", "dial_zone"), ("post_dial", "post_dial"),
)  # fmt: skip
NOT_FOUND = ErrorDetail("customer.not_found", "/user_data", "Customer not found.")
NO_KEY = ErrorDetail(
    "contact.user_data_missing", "/user_data", "UserData is missing and the campaign matches on it only"
)

CKey = tuple[str, str]  # tenant, user_data
MKey = tuple[str, str, str]  # tenant, campaign, user_data


@dataclass(slots=True)
class Applied:
    status: Status
    contact: dict[str, Any]
    version: int
    dial_list: list[dict[str, Any]]
    errors: list[ErrorDetail] = field(default_factory=list)
    record_id: int | None = None
    moved_from: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Customer:
    data: dict[str, Any]
    hash: str
    version: int
    dirty: bool = False
    updated_at: datetime | None = None  # None: written in this batch


@dataclass(slots=True)
class _Member:
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
    dirty: bool = False
    deleted: bool = False
    record_id: int | None = None

    def copy(self) -> _Member:
        return _Member(dict(self.data), self.exists, self.dirty, self.deleted, self.record_id)


@dataclass(slots=True)
class _DialOps:
    replace: bool = False
    entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _State:
    customers: dict[CKey, _Customer]
    members: dict[MKey, _Member]
    by_customer: dict[CKey, list[str]]  # campaigns each customer belongs to
    dial: dict[MKey, _DialOps] = field(default_factory=dict)
    pending_ids: list[tuple[MKey, Applied]] = field(default_factory=list)
    dnc: dict[tuple[str, str], list[dnc.Hit]] = field(default_factory=dict)  # unexpired entries, by (tenant, phone)


def _split(snap: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    member = {k: snap.pop(k) for k in MEMBER_FIELDS if k in snap}
    return snap, member


def dial_entries(phones: list[dict[str, Any]], member: dict[str, Any]) -> list[dict[str, Any]]:
    """The dial-list entries of a contact's phones; an invalid number is never queued."""
    entries = []
    for phone in phones:
        if phone.get("invalid"):
            continue
        entry: dict[str, Any] = {"phone": phone["number"]}
        priority = phone.get("priority", member.get("priority"))
        if priority is not None:
            entry["priority"] = priority
        for src, dst in DIAL_FIELDS:
            if src in phone:
                entry[dst] = phone[src]
        entries.append(entry)
    return entries


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else value


async def _load(conn: asyncpg.Connection, records: list[ContactRecord]) -> _State:
    keys = sorted({(r.tenant, r.contact.user_data) for r in records})
    cols = _columns(keys, 2)
    rows = await conn.fetch(
        "SELECT c.tenant, c.user_data, c.data, c.content_hash, c.version, c.updated_at FROM customers c"
        " JOIN unnest($1::text[], $2::text[]) AS k(t, u) ON c.tenant = k.t AND c.user_data = k.u"
        " ORDER BY c.tenant, c.user_data FOR UPDATE OF c",
        *cols,
    )
    customers = {
        (r["tenant"], r["user_data"]): _Customer(r["data"], r["content_hash"], r["version"], updated_at=r["updated_at"])
        for r in rows
    }
    mrows = await conn.fetch(
        "SELECT m.id, m.tenant, m.campaign, m.user_data, m.status, m.dictionary_status, m.agent, m.priority,"
        " m.next_call_at, m.window_begin, m.window_end, m.next_call_zone, m.window_zone FROM campaign_records m"
        " JOIN unnest($1::text[], $2::text[]) AS k(t, u) ON m.tenant = k.t AND m.user_data = k.u",
        *cols,
    )
    members: dict[MKey, _Member] = {}
    by_customer: dict[CKey, list[str]] = {}
    for r in mrows:
        data = {k: _iso(r[k]) for k in MEMBER_FIELDS if r[k] is not None}
        members[(r["tenant"], r["campaign"], r["user_data"])] = _Member(data, exists=True, record_id=r["id"])
        by_customer.setdefault((r["tenant"], r["user_data"]), []).append(r["campaign"])
    # every number a dial list may be rebuilt from: the incoming ones and the stored ones
    phones = {p.number for r in records for p in r.contact.phones if not p.invalid}
    phones.update(p["number"] for c in customers.values() for p in c.data.get("phones", ()) if not p.get("invalid"))
    found = await dnc.lookup(conn, {r.tenant for r in records}, phones) if phones else {}
    return _State(customers, members, by_customer, dnc=found)


async def apply(conn: asyncpg.Connection, records: list[ContactRecord]) -> list[Applied]:
    """Apply ``records`` in order (dry-run records are computed, never written)."""
    if not records:
        return []
    matched = await _match_phones(conn, records)
    keyed = [_keyed(r, matched.get(i)) for i, r in enumerate(records)]
    state = await _load(conn, [r for r in keyed if r is not None])
    results = [_apply_keyed(state, rec, matched.get(i)) if rec else _failed(NO_KEY) for i, rec in enumerate(keyed)]
    await _write(conn, state)
    for mkey, applied in state.pending_ids:
        applied.record_id = state.members[mkey].record_id
    return results


def _failed(error: ErrorDetail) -> Applied:
    return Applied(Status.FAILED, {}, 0, [], errors=[error])


def _apply_keyed(state: _State, rec: ContactRecord, phone_match: dict[str, Any] | None) -> Applied:
    applied = _apply_one(state, rec)
    if phone_match is not None and applied.status is not Status.FAILED:
        applied.details["match"] = phone_match
    return applied


def _apply_one(state: _State, rec: ContactRecord) -> Applied:
    """One record against the batch's state so far (a dry run works on copies and leaves no trace)."""
    pol = rec.policy
    ckey: CKey = (rec.tenant, rec.contact.user_data)
    mkey: MKey = (rec.tenant, rec.campaign, rec.contact.user_data)
    cust = state.customers.get(ckey)
    member = state.members.get(mkey) or _Member()
    if pol.dry_run:
        member = member.copy()
    incoming_c, incoming_m = _split(snapshot(rec.contact))
    phones = incoming_c.get("phones", [])
    stale = _not_a_duplicate(state, rec, cust) if cust is not None else None

    if cust is None or stale is not None:
        if pol.mode is WriteMode.MUST_EXIST:
            return _failed(NOT_FOUND)
        version = cust.version + 1 if cust is not None else 1
        cust = _Customer(incoming_c, content_hash(incoming_c), version, dirty=True)
        member.data, member.dirty, member.exists = incoming_m, True, True
        entries = dial_entries(phones, member.data)
        applied = _commit(state, rec, ckey, mkey, cust, member, Status.ADDED, _DialOps(True, entries), [])
        if stale is not None:
            applied.details["match"] = stale
        return applied

    if pol.mode is WriteMode.INSERT_ONLY:
        return _result(Status.ALREADY_EXISTS, rec, cust, member)
    others = [
        c
        for c in state.by_customer.get(ckey, [])
        if c != rec.campaign and not state.members[(rec.tenant, c, rec.contact.user_data)].deleted
    ]
    moved: list[str] = []
    if pol.change_package is ChangePackage.SKIP:  # a customer already on the main table: not processed
        return _result(Status.SKIPPED, rec, cust, member)
    if pol.change_package is not None and others:
        if pol.change_package is ChangePackage.UNASSIGN_TO_CURRENT:
            return _result(Status.SKIPPED, rec, cust, member)
        moved = others  # reassign: the customer leaves its other main-table campaigns
    if member.exists and pol.member is MemberMode.INSERT_ONLY:
        applied = _result(Status.ALREADY_EXISTS, rec, cust, member)
        if member.record_id is None and not pol.dry_run:  # a membership added earlier in this batch
            state.pending_ids.append((mkey, applied))
        return applied

    added = not member.exists
    changed = added or bool(moved)
    if pol.mode in (WriteMode.UPDATE, WriteMode.REPLACE):
        new_c = merge(cust.data, incoming_c, pol.mode)
        new_hash = content_hash(new_c)
        if new_hash != cust.hash:
            cust = _Customer(new_c, new_hash, cust.version + 1, dirty=True)
            changed = True
    new_m = incoming_m if pol.mode is WriteMode.REPLACE else {**member.data, **incoming_m}
    if pol.reset_agent:
        new_m.pop("agent", None)
    if pol.reset_status:
        new_m.pop("status", None)
    if new_m != member.data or added:
        member.data, member.dirty, member.exists = new_m, True, True
        changed = True

    ops = _dial_ops(pol.dial_list, pol.success_statuses, added, changed, cust, member, phones)
    if ops.entries or ops.replace:
        changed = changed or bool(ops.entries)
    status = (
        Status.ADDED
        if added
        else Status.UPDATED
        if changed
        else (Status.SKIPPED if pol.mode is WriteMode.KEEP else Status.UNCHANGED)
    )
    matched = None if pol.match.is_default else _named(rec, state, "user_data")  # as found, before this record
    applied = _commit(state, rec, ckey, mkey, cust, member, status, ops, moved)
    if matched is not None:
        applied.details["match"] = matched
    return applied


def _named(rec: ContactRecord, state: _State, by: str) -> dict[str, Any]:
    """The existing record a duplicate matched: its key and the campaigns it belongs to."""
    campaigns = state.by_customer.get((rec.tenant, rec.contact.user_data), [])
    return {"by": by, "user_data": rec.contact.user_data, "tenant": rec.tenant, "campaigns": sorted(campaigns)}


def _not_a_duplicate(state: _State, rec: ContactRecord, cust: _Customer) -> dict[str, Any] | None:
    """Why an existing customer does not count as a duplicate under the campaign's match policy
    (then the record is imported as a new contact over it), or ``None`` when it does."""
    match = rec.policy.match
    if match.is_default:
        return None
    reason = None
    if match.scope is MatchScope.CAMPAIGN and rec.campaign not in state.by_customer.get(
        (rec.tenant, rec.contact.user_data), []
    ):
        reason = "outside_scope"
    elif match.lookback_days is not None and not _recent(cust.updated_at, match):
        reason = "outside_lookback"
    if reason is None:
        return None
    return {**_named(rec, state, "user_data"), "counted": False, "reason": reason}


def _recent(updated_at: datetime | None, match: MatchPolicy) -> bool:
    if updated_at is None or match.lookback_days is None:
        return True
    return updated_at >= datetime.now(UTC) - timedelta(days=match.lookback_days)


def _dial_ops(
    mode: DialListMode,
    success: frozenset[str],
    added: bool,
    changed: bool,
    cust: _Customer,
    member: _Member,
    phones: list[dict[str, Any]],
) -> _DialOps:
    if mode is DialListMode.MIRROR:
        if added or changed:
            return _DialOps(True, dial_entries(cust.data.get("phones", []), member.data))
        return _DialOps()
    if mode is DialListMode.IGNORE_DUPLICATE and not added:
        return _DialOps()
    if mode is DialListMode.IGNORE_SUCCESS and str(member.data.get("status", "")).lower() in success:
        return _DialOps()
    return _DialOps(False, dial_entries(phones, member.data))


def _result(status: Status, rec: ContactRecord, cust: _Customer, member: _Member) -> Applied:
    contact = {**cust.data, **member.data, "campaign": rec.campaign}
    return Applied(status, contact, cust.version, [], record_id=member.record_id)


def _commit(
    state: _State,
    rec: ContactRecord,
    ckey: CKey,
    mkey: MKey,
    cust: _Customer,
    member: _Member,
    status: Status,
    ops: _DialOps,
    moved: list[str],
) -> Applied:
    valid = [p["number"] for p in cust.data.get("phones", []) if not p.get("invalid")] if state.dnc else []
    hits = {n: h for n in valid if (h := dnc.hits_for(state.dnc, rec.tenant, n))}
    details: dict[str, Any] = {}
    if hits:
        ops.entries = [e for e in ops.entries if e["phone"] not in hits]
        details["suppressed"] = [h.as_json() for found in hits.values() for h in found]
        if len(hits) == len(set(valid)):
            details["contact_status"] = status.value
            status = Status.SUPPRESSED
    applied = Applied(
        status,
        {**cust.data, **member.data, "campaign": rec.campaign},
        cust.version,
        ops.entries,
        record_id=member.record_id,
        moved_from=moved,
        details=details,
    )
    if rec.policy.dry_run:
        return applied
    state.customers[ckey] = cust
    state.members[mkey] = member
    campaigns = state.by_customer.setdefault(ckey, [])
    if rec.campaign not in campaigns:
        campaigns.append(rec.campaign)
    for other in moved:
        gone = state.members[(rec.tenant, other, rec.contact.user_data)]
        gone.deleted, gone.dirty = True, True
        state.dial[(rec.tenant, other, rec.contact.user_data)] = _DialOps(True, [])
    if ops.replace or ops.entries:
        pending = state.dial.setdefault(mkey, _DialOps())
        if ops.replace:
            pending.replace, pending.entries = True, list(ops.entries)
        else:
            pending.entries.extend(ops.entries)
    if member.record_id is None:
        state.pending_ids.append((mkey, applied))
    return applied


async def _write(conn: asyncpg.Connection, state: _State) -> None:
    dirty = [(k, c) for k, c in state.customers.items() if c.dirty]
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
    gone = [k for k, m in state.members.items() if m.dirty and m.deleted]
    if gone:
        await conn.execute(
            "DELETE FROM campaign_records m USING unnest($1::text[], $2::text[], $3::text[]) AS k(t, c, u)"
            " WHERE m.tenant = k.t AND m.campaign = k.c AND m.user_data = k.u",
            *_columns(gone, 3),
        )
    upserts = [(k, m) for k, m in state.members.items() if m.dirty and not m.deleted]
    if upserts:
        rows = await conn.fetch(
            "INSERT INTO campaign_records (tenant, campaign, user_data, status, dictionary_status, agent, priority,"
            " next_call_at, window_begin, window_end, next_call_zone, window_zone)"
            " SELECT t, c, u, s, ds, a, p, n::timestamptz, wb::timestamptz, we::timestamptz, nz, wz FROM unnest("
            " $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],"
            " $9::text[], $10::text[], $11::text[], $12::text[]) AS x(t, c, u, s, ds, a, p, n, wb, we, nz, wz)"
            " ON CONFLICT (tenant, campaign, user_data) DO UPDATE SET status = EXCLUDED.status,"
            " dictionary_status = EXCLUDED.dictionary_status,"
            " agent = EXCLUDED.agent, priority = EXCLUDED.priority, next_call_at = EXCLUDED.next_call_at,"
            " window_begin = EXCLUDED.window_begin, window_end = EXCLUDED.window_end,"
            " next_call_zone = EXCLUDED.next_call_zone, window_zone = EXCLUDED.window_zone, updated_at = now()"
            " RETURNING tenant, campaign, user_data, id",
            *_columns([k for k, _ in upserts], 3),
            *[[m.data.get(f) for _, m in upserts] for f in MEMBER_FIELDS],
        )
        for r in rows:
            state.members[(r["tenant"], r["campaign"], r["user_data"])].record_id = r["id"]
    if state.dial:
        await _write_dial_list(conn, state.dial)


async def _write_dial_list(conn: asyncpg.Connection, dial: dict[MKey, _DialOps]) -> None:
    replaced = [k for k, ops in dial.items() if ops.replace]
    if replaced:
        await conn.execute(
            "DELETE FROM dial_list d USING unnest($1::text[], $2::text[], $3::text[]) AS k(t, c, u)"
            " WHERE d.tenant = k.t AND d.campaign = k.c AND d.user_data = k.u",
            *_columns(replaced, 3),
        )
    rows = [(k, e) for k, ops in dial.items() for e in ops.entries]
    if not rows:
        return
    await conn.execute(
        "INSERT INTO dial_list (tenant, campaign, user_data, phone, phone_type, priority, dial_at, delay_s,"
        " time_zones, dial_zone, post_dial) SELECT t, c, u, p, ty, pr, da::timestamptz, ds, string_to_array(tz, ' '),"
        " dz, pd FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],"
        " $8::int[], $9::text[], $10::text[], $11::text[]) AS x(t, c, u, p, ty, pr, da, ds, tz, dz, pd)",
        *_columns([k for k, _ in rows], 3),
        *[[e.get(f) for _, e in rows] for f in ("phone", "phone_type", "priority", "dial_at", "delay_s")],
        [" ".join(e["time_zones"]) if e.get("time_zones") else None for _, e in rows],
        [e.get("dial_zone") for _, e in rows],
        [e.get("post_dial") for _, e in rows],
    )


def _keyed(rec: ContactRecord, phone_match: dict[str, Any] | None) -> ContactRecord | None:
    """The record with its key: as given; the matched customer's (phone fallback); else its first
    valid number. ``None``: no UserData and a campaign that matches on UserData only."""
    if rec.contact.user_data:
        return rec
    if rec.policy.match.on is not MatchOn.USER_DATA_OR_PHONE:
        return None
    key = phone_match["user_data"] if phone_match else next((p.number for p in rec.contact.phones if not p.invalid), "")
    if not key:
        return None
    return rec.model_copy(update={"contact": rec.contact.model_copy(update={"user_data": key})})


PHONE_MATCH_SQL = (
    "SELECT c.tenant, c.user_data, c.updated_at, e ->> 'number' AS phone,"
    " ARRAY(SELECT m.campaign FROM campaign_records m WHERE m.tenant = c.tenant AND m.user_data = c.user_data"
    " ORDER BY m.campaign) AS campaigns"
    " FROM customers c CROSS JOIN LATERAL jsonb_array_elements(c.data -> 'phones') AS e"
    " WHERE (c.data -> 'phones') @> ANY($1::text[]::jsonb[]) AND c.tenant = ANY($2::text[])"
    " AND e ->> 'number' = ANY($3::text[]) ORDER BY c.updated_at DESC, c.user_data"
)


def phone_match_query(numbers: list[str], tenants: list[str]) -> tuple[str, list[str], list[str], list[str]]:
    """The phone-fallback lookup and its arguments: customers of ``tenants`` holding one of ``numbers``
    (``bench/explain_phone_match.py`` checks that it runs on the GIN index ``customers_phones``)."""
    return PHONE_MATCH_SQL, [orjson.dumps([{"number": n}]).decode() for n in numbers], tenants, numbers


async def _match_phones(conn: asyncpg.Connection, records: list[ContactRecord]) -> dict[int, dict[str, Any]]:
    """Records without UserData whose campaign falls back to the phone: the existing customer that
    holds one of their valid numbers (in scope, within the look-back; the latest changed wins).
    One query for the whole batch, on the GIN index of the customers' phones."""
    wanted = {
        i: [p.number for p in r.contact.phones if not p.invalid]
        for i, r in enumerate(records)
        if not r.contact.user_data and r.policy.match.on is MatchOn.USER_DATA_OR_PHONE
    }
    numbers = sorted({n for ns in wanted.values() for n in ns})
    if not numbers:
        return {}
    rows = await conn.fetch(*phone_match_query(numbers, sorted({records[i].tenant for i in wanted})))
    by_phone: dict[tuple[str, str], list[int]] = {}  # positions in the rows, which are latest changed first
    for pos, r in enumerate(rows):
        by_phone.setdefault((r["tenant"], r["phone"]), []).append(pos)
    out: dict[int, dict[str, Any]] = {}
    for i, ns in wanted.items():
        rec = records[i]
        match = rec.policy.match
        for pos in sorted({pos for n in ns for pos in by_phone.get((rec.tenant, n), ())}):
            r = rows[pos]
            if not _recent(r["updated_at"], match):
                continue
            if match.scope is MatchScope.CAMPAIGN and rec.campaign not in r["campaigns"]:
                continue
            campaigns = list(r["campaigns"])
            out[i] = {
                "by": "phone",
                "phone": r["phone"],
                "user_data": r["user_data"],
                "tenant": rec.tenant,
                "campaigns": campaigns,
            }
            break
    return out


def _columns(rows: Sequence[tuple[str, ...]], width: int) -> list[list[str]]:
    """Transpose key tuples into the per-column arrays ``unnest`` takes."""
    return [[r[i] for r in rows] for i in range(width)]
