"""Deterministic benchmark input: contact.v1 batches and single-record dialler events.

Out of every 100 records, 20 repeat the UserData of an earlier valid record (alternately identical,
so UNCHANGED, and renamed, so UPDATED), 1 is invalid (FAILED with a field path) and 79 are new.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

import orjson

TENANT = "bench"
CAMPAIGN = "camp"  # contact.v1
DIALLER_CAMPAIGN = "538"
DIALLER_CAMPAIGN_NAME = "Bench Campaign"
SOURCE = "bench"
_SEGMENTS = ("gold", "silver", "bronze", "none")

NEW, SAME, CHANGED, INVALID = "new", "same", "changed", "invalid"


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # NEW, SAME (identical repeat), CHANGED (renamed repeat) or INVALID
    n: int  # the contact's number (its UserData)
    variant: int  # the name version


@dataclass(slots=True)
class Expected:
    """What a correct service reports for a workload (statuses as if applied in publish order)."""

    records: int = 0
    invalid: int = 0
    distinct: int = 0  # new valid keys: ADDED
    same: int = 0  # identical repeats: UNCHANGED
    changed: int = 0  # renamed repeats: UPDATED


@dataclass(slots=True)
class Workload:
    name: str
    dialect: str
    records: int
    per_event: int
    messages: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value), ready to send
    expected: Expected = field(default_factory=Expected)

    @property
    def events(self) -> int:
        return len(self.messages)


def plan(records: int, seed: int = 7) -> list[Item]:
    """The record sequence: index % 100 == 99 is invalid, index % 5 == 2 repeats an earlier key."""
    rng = random.Random(seed)
    items: list[Item] = []
    valid: list[int] = []  # keys seen so far
    version: dict[int, int] = {}
    repeats = 0
    for i in range(records):
        if i % 100 == 99:
            items.append(Item(INVALID, 10_000_000 + i, 0))
        elif i % 5 == 2 and valid:
            n = valid[rng.randrange(len(valid))]
            repeats += 1
            if repeats % 2:
                items.append(Item(SAME, n, version[n]))
            else:
                version[n] += 1
                items.append(Item(CHANGED, n, version[n]))
        else:
            valid.append(i)
            version[i] = 0
            items.append(Item(NEW, i, 0))
    return items


def expected(items: list[Item]) -> Expected:
    e = Expected(records=len(items))
    for it in items:
        if it.kind == INVALID:
            e.invalid += 1
        elif it.kind == NEW:
            e.distinct += 1
        elif it.kind == SAME:
            e.same += 1
        else:
            e.changed += 1
    return e


def contact_v1(it: Item) -> dict[str, Any]:
    """One contact.v1 contact (the invalid ones have a phone number the schema refuses)."""
    if it.kind == INVALID:
        return {"user_data": f"X{it.n:09d}", "name": "Broken", "phones": [{"number": "12"}]}
    return {
        "user_data": f"U{it.n:09d}",
        "name": f"Contact {it.n} v{it.variant}",
        "email": f"c{it.n}@example.com",
        "phones": [{"number": f"+4930{it.n:09d}", "type": "mobile", "priority": 1}],
        "attributes": {"segment": _SEGMENTS[it.n % 4], "source": "bench"},
        "status": "new",
        "priority": it.n % 10,
    }


def dialler_contact(it: Item) -> dict[str, Any]:
    """One DiallerContact (the invalid ones miss the mandatory Name)."""
    contact: dict[str, Any] = {
        "DiallerCampaignsID": int(DIALLER_CAMPAIGN),
        "UserData": f"U{it.n:09d}",
        "Name": f"Contact {it.n} v{it.variant}",
        "FirstName": "Max",
        "Company": "Musterfirma GmbH",
        "City": "Berlin",
        "PhoneNumber1": f"+4930{it.n:09d}",
        "PhoneNumber2": f"+49170{it.n:08d}",
        "Email": f"c{it.n}@example.com",
        "dtBeginDate": "2026-01-01T08:00:00",
        "dtEndDate": "2026-12-31T18:00:00",
    }
    if it.kind == INVALID:
        contact["UserData"] = f"X{it.n:09d}"
        del contact["Name"]
    return contact


def cloudevent(dialect: str, event_id: str, data: Any, tenant: str | None = None) -> bytes:
    event: dict[str, Any] = {"specversion": "1.0", "id": event_id, "source": SOURCE, "type": dialect, "data": data}
    if tenant is not None:
        event["tenant"] = tenant
    return orjson.dumps(event)


def contact_v1_workload(records: int, per_event: int = 100, *, seed: int = 7, tag: str = "c") -> Workload:
    """contact.v1 events of ``per_event`` contacts each, keyed by event (spread over the partitions)."""
    items = plan(records, seed)
    wl = Workload(f"contact.v1 x{per_event}", "contact.v1", records, per_event, expected=expected(items))
    for start in range(0, records, per_event):
        eid = f"{tag}-{start // per_event}"
        data = {
            "tenant": TENANT,
            "campaign": CAMPAIGN,
            "contacts": [contact_v1(it) for it in items[start : start + per_event]],
        }
        wl.messages.append((eid.encode(), cloudevent("contact.v1", eid, data)))
    return wl


def dialler_workload(records: int, *, seed: int = 7, tag: str = "d") -> Workload:
    """One dialler event per contact (overwriteDuplicates true), keyed by UserData so repeats stay in order."""
    items = plan(records, seed)
    wl = Workload("dialler x1", "dialler", records, 1, expected=expected(items))
    for i, it in enumerate(items):
        contact = dialler_contact(it)
        data = {"overwriteDuplicates": True, "contact": contact}
        wl.messages.append((contact["UserData"].encode(), cloudevent("dialler", f"{tag}-{i}", data, TENANT)))
    return wl


def bare_rows(records: int, *, seed: int = 7) -> list[tuple[int, str, str, str, str]]:
    """The contact.v1 workload's records as ``customers`` rows (seq, tenant, user_data, data, hash).

    No validation: the invalid records are copied too, as a bulk loader would.
    """
    rows = []
    for seq, it in enumerate(plan(records, seed)):
        snap = contact_v1(it)
        for member_field in ("status", "priority"):  # membership fields live in campaign_records
            snap.pop(member_field, None)
        data = orjson.dumps(snap, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        rows.append((seq, TENANT, snap["user_data"], data.decode(), digest))
    return rows
