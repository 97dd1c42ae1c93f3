"""Scale-out workload and check: N replicas must give the outcomes and rows of one.

A wave is contact.v1 events, one contact each, keyed by event id (so the records of one UserData
land on different partitions, hence on different replicas), with a share of the UserData repeated
in adjacent events (they reach two replicas at about the same time), and an importWS file writing
some of the same keys through the file-import runner while the events are consumed.

Every record of a key changes it (a new name and a new attribute each), so, whatever order the
replicas apply them in, a key's outcomes must carry the versions 1..n exactly once — one ADDED,
then UPDATED — where n is the number of its records; its row must hold version n, the data of the
outcome with version n, and every attribute its events added (an overwrite instead of a merge loses
one). Used by tests/integration/test_replicas.py and, at 100k records, by bench/replicas.py.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from service.config import Settings
from tests.jobs import CAMPAIGN, HEADER, TENANT, importws_file
from tests.support import ServiceProcess, contacts_event, produce

MEMBER = {"status", "agent", "priority", "next_call_at", "window_begin", "window_end", "campaign"}


@dataclass
class Ledger:
    """What was sent: the records of each key and the attributes its events set."""

    records: Counter[str] = field(default_factory=Counter)
    attributes: dict[str, set[str]] = field(default_factory=dict)
    events: int = 0  # messages published on the input topic (import requests included)
    jobs: int = 0


@dataclass(frozen=True)
class Wave:
    events: list[dict[str, Any]]
    keys: list[bytes]
    rows: list[list[str]]  # the import file, header first


def phone(key: str) -> str:
    return f"+4930{int(key[1:]):07d}"


def make_wave(ledger: Ledger, number: int, keys: list[str], repeated: float, in_file: float, seed: int) -> Wave:
    """Events for ``keys`` (a ``repeated`` share of them two or three times, in adjacent events) and
    an import file holding an ``in_file`` share of them, in the same order."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for key in keys:
        for _ in range(rng.choice((2, 3)) if rng.random() < repeated else 1):
            tag = f"w{number}e{len(events)}"
            person = {"user_data": key, "phones": [{"number": phone(key)}], "name": tag, "attributes": {tag: 1}}
            events.append(contacts_event(TENANT, [person], campaign=CAMPAIGN, event_id=tag))
            ledger.records[key] += 1
            ledger.attributes.setdefault(key, set()).add(tag)
    rows = [HEADER]
    for key in keys:
        if rng.random() < in_file:
            rows.append([key, f"file{number}/{key}", phone(key), "gold"])
            ledger.records[key] += 1
    return Wave(events, [e["id"].encode() for e in events], rows)


async def publish(settings: Settings, ledger: Ledger, wave: Wave, file_url: str, request_id: str) -> None:
    """The import request first (its job then runs while the events are consumed), then the events."""
    await produce(settings, [importws_file(request_id, file_url)], key=request_id.encode())
    await produce(settings, wave.events, keys=wave.keys)
    ledger.events += 1 + len(wave.events)
    ledger.jobs += 1


def assigned(svc: ServiceProcess) -> list[int]:
    """The partitions a replica holds after its last assignment."""
    found = re.findall(r'"partitions":\[([0-9,]*)\],"event":"partitions assigned"', svc.log())
    return [int(p) for p in found[-1].split(",") if p] if found else []


async def wait_spread(replicas: list[ServiceProcess], partitions: int, timeout_s: float = 120) -> None:
    """Until every replica holds some of the ``partitions`` and together they hold each exactly once."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = [assigned(r) for r in replicas]
        flat = sorted(p for h in held for p in h)
        if all(held) and flat == list(range(partitions)):
            return
        for r in replicas:
            if r.proc is not None and r.proc.poll() is not None:
                raise AssertionError(f"replica exited:\n{r.log()[-3000:]}")
        assert time.monotonic() < deadline, f"partitions not spread over the replicas: {held}"
        await asyncio.sleep(0.2)


async def wait_done(conn: asyncpg.Connection, ledger: Ledger, timeout_s: float = 120) -> None:
    """Until every event is processed, every import job has ended and every outcome is relayed."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = await conn.fetchval("SELECT count(*) FROM processed_events")
        jobs = await conn.fetchval("SELECT count(*) FROM import_jobs WHERE state IN ('completed', 'failed')")
        pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if done >= ledger.events and jobs >= ledger.jobs and pending == 0:
            return
        assert time.monotonic() < deadline, f"{done}/{ledger.events} events, {jobs}/{ledger.jobs} jobs, {pending}"
        await asyncio.sleep(0.25)


@dataclass
class Report:
    records: int
    distinct: int
    outcomes: int
    statuses: dict[str, int]
    added_twice: int  # keys reported ADDED more than once
    wrong_versions: dict[str, list[int]]  # key -> its outcomes' versions, where they are not 1..n
    wrong_rows: list[str]  # keys whose row is not what their last outcome says
    jobs_failed: int

    @property
    def ok(self) -> bool:
        return (
            self.statuses == {"ADDED": self.distinct, "UPDATED": self.records - self.distinct}
            and self.outcomes == self.records
            and not self.added_twice
            and not self.wrong_versions
            and not self.wrong_rows
            and not self.jobs_failed
        )

    def summary(self) -> str:
        some = dict(list(self.wrong_versions.items())[:5])
        return (
            f"records {self.records}, distinct keys {self.distinct}, outcomes {self.outcomes}, {self.statuses};"
            f" keys ADDED twice {self.added_twice}; keys with wrong versions {len(self.wrong_versions)} (e.g."
            f" {some}); wrong rows {len(self.wrong_rows)} {self.wrong_rows[:5]}; failed jobs {self.jobs_failed}"
        )


async def check(conn: asyncpg.Connection, ledger: Ledger, results_topic: str) -> Report:
    payloads = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY seq", results_topic)
    found = [orjson.loads(r["payload"])["data"] for r in payloads]
    mine = [o for o in found if o.get("tenant") == TENANT and o["status"] != "ACCEPTED"]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for o in mine:
        by_key.setdefault(o["user_data"], []).append(o)
    rows = {r["user_data"]: r for r in await conn.fetch("SELECT user_data, version, data FROM customers")}
    wrong_versions, wrong_rows = {}, []
    for key, n in ledger.records.items():
        got = by_key.get(key, [])
        versions = sorted(o["version"] for o in got)
        if versions != list(range(1, n + 1)):
            wrong_versions[key] = versions
        row = rows.get(key)
        last = max(got, key=lambda o: o["version"]) if got else None
        if row is None or last is None or not _row_is(row, last, n, ledger.attributes[key]):
            wrong_rows.append(key)
    failed = await conn.fetchval("SELECT count(*) FROM import_jobs WHERE state <> 'completed'")
    return Report(
        records=sum(ledger.records.values()),
        distinct=len(ledger.records),
        outcomes=len(mine),
        statuses=dict(Counter(o["status"] for o in mine)),
        added_twice=sum(1 for got in by_key.values() if sum(o["status"] == "ADDED" for o in got) > 1),
        wrong_versions=wrong_versions,
        wrong_rows=wrong_rows,
        jobs_failed=failed,
    )


def _row_is(row: asyncpg.Record, last: dict[str, Any], n: int, attributes: set[str]) -> bool:
    """The row holds version n, the contact of the last outcome, and every attribute of its events."""
    data = row["data"]
    contact = {k: v for k, v in last["contact"].items() if k not in MEMBER}
    return bool(row["version"] == n and data == contact and set(data.get("attributes", {})) == attributes)
