"""Erasure (docs/erasure.md) against the real broker, Postgres and service process: a person imported
by two dialects and mentioned by a dead letter is erased by a ``contact.erase`` event, a tombstone and
the CLI; afterwards no column of any table holds their UserData, name or phone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from service.catalog import store as catalog_store
from service.catalog.model import Campaign
from service.config import Settings
from service.model.erase import EraseRecord, hashed
from service.store import erasure, outbox, scrub
from service.store.outbox import OutMessage
from tests.support import ROOT, ServiceProcess, cloudevent, contacts_event, outcomes, produce, read_topic, settings_env

P_UD, P_FIRST, P_LAST, P_PHONE = "erase-me-7731", "Zebedee", "Quux", "+442079460123"
Q_UD, Q_NAME, Q_PHONE = "keep-me-4410", "Ottoline Vance", "+442079460124"
P_TRACES = [P_UD, P_FIRST, P_LAST, P_PHONE, P_PHONE[3:]]  # the phone also in national digits
DIALLER_SEED = ROOT / "tests" / "golden" / "dialler" / "import_by_id.request.json"


async def traces(conn: asyncpg.Connection, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text, json, array or bytea column of every table of the
    schema holding one of ``needles``."""
    columns = await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        " AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')"
    )
    assert {"customers", "campaign_records", "dial_list", "outbox"} <= {c["table_name"] for c in columns}
    found = []
    for c in columns:
        table, column = c["table_name"], c["column_name"]
        for needle in needles:
            # bytea compared as bytes (its text form is hex), everything else as its text form
            arg: str | bytes = needle.encode() if c["data_type"] == "bytea" else needle
            where = (
                f'position($1::bytea IN "{column}") > 0'
                if isinstance(arg, bytes)
                else f'strpos("{column}"::text, $1::text) > 0'
            )
            if await conn.fetchval(f'SELECT count(*) FROM "{table}" WHERE {where}', arg):
                found.append((table, column, needle))
    return found


def _erase_event(user_data: Any, event_id: str, **more: Any) -> dict[str, Any]:
    return cloudevent({"tenant": "acme", "user_data": user_data, **more}, dialect="contact.erase", event_id=event_id)


def _dialler_record() -> dict[str, Any]:
    seed = orjson.loads(DIALLER_SEED.read_bytes())
    person = {"UserData": P_UD, "FirstName": P_FIRST, "Name": P_LAST, "PhoneNumber1": P_PHONE}
    return {**seed, **person, **{f"PhoneNumber{n}": None for n in range(2, 7)}}


async def _started(settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection) -> None:
    """The dialler campaign in the catalog, then the service (it reads the catalog at start)."""
    await catalog_store.add_tenant(conn, "acme")
    await catalog_store.add_campaign(conn, Campaign("acme", "538", "My Campaign Name"))
    spawn(settings).wait_log("partitions assigned")


async def _import_both(settings: Settings) -> None:
    people = [
        {"user_data": P_UD, "name": f"{P_FIRST} {P_LAST}", "phones": [{"number": P_PHONE}]},
        {"user_data": Q_UD, "name": Q_NAME, "phones": [{"number": Q_PHONE}]},
    ]
    dialler = cloudevent(_dialler_record(), dialect="dialler", event_id="dialler-1")
    dialler["tenant"] = "acme"
    await produce(settings, [contacts_event("acme", people, event_id="import-1"), dialler])
    got = await outcomes(settings, expect=3)
    assert all(o["status"] in ("ADDED", "UPDATED") for o in got), [o["errors"] for o in got]


async def test_an_erase_event_leaves_nothing_of_the_person(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _started(settings, spawn, conn)
    await _import_both(settings)
    await produce(settings, [f"acme {P_UD} {P_FIRST} {P_LAST} {P_PHONE} is not JSON".encode()])
    await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=1, client=settings.kafka_common())
    before = await traces(conn, P_TRACES)
    assert {t for t, _, _ in before} >= {"customers", "campaign_records", "dial_list", "outbox"}

    await produce(settings, [_erase_event(P_UD, "erase-1", reason="ticket 42")])
    erased = [o for o in await outcomes(settings, expect=4) if o["event_id"] == "erase-1"]
    assert [o["status"] for o in erased] == ["ERASED"]
    assert erased[0]["user_data"] == hashed("acme", P_UD) and erased[0]["tenant"] == "acme"
    details = erased[0]["details"]
    assert details["customers"] == 1 and details["dial_list"] >= 1 and details["dead_letters"] == 1
    assert details["campaign_records"] == 2  # camp (contact.v1) and 538 (dialler)
    assert details["outcomes"] == 2  # the contact.v1 and the dialler outcome about them
    assert not [t for t in P_TRACES if t in orjson.dumps(erased[0]).decode()]
    assert await traces(conn, P_TRACES) == []
    # the other person of the same event is untouched
    kept = await traces(conn, [Q_UD, Q_NAME, Q_PHONE])
    assert {(t, n) for t, _, n in kept} >= {("customers", Q_UD), ("customers", Q_NAME), ("dial_list", Q_PHONE)}
    assert ("outbox", Q_NAME) in {(t, n) for t, _, n in kept}  # its stored outcome keeps its contact

    # the same erase event again: answered with its stored outcome, nothing else happens
    await produce(settings, [_erase_event(P_UD, "erase-1", reason="ticket 42")])
    again = [o for o in await outcomes(settings, expect=5) if o["event_id"] == "erase-1"]
    assert len(again) == 2 and again[1] == again[0]
    assert await traces(conn, P_TRACES) == []

    # importing the person again makes a fresh contact
    await produce(
        settings, [contacts_event("acme", [{"user_data": P_UD, "phones": [{"number": P_PHONE}]}], event_id="import-2")]
    )
    fresh = [o for o in await outcomes(settings, expect=6) if o["event_id"] == "import-2"]
    assert [(o["status"], o["version"]) for o in fresh] == [("ADDED", 1)]


async def test_a_tombstone_erases_when_configured(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    # tombstones erase only when the service is told whose they are (the default dead-letters them)
    settings = settings.model_copy(update={"erase_tombstone_tenant": "acme"})
    await _started(settings, spawn, conn)
    await _import_both(settings)
    producer = AIOKafkaProducer(**settings.kafka_common(), enable_idempotence=False, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(settings.input_topic, None, key=P_UD.encode())
    finally:
        await producer.stop()
    where = f"{settings.input_topic}/{sent.partition}/{sent.offset}"
    erased = [o for o in await outcomes(settings, expect=4) if o["event_id"] == where]
    assert [(o["status"], o["dialect"], o["user_data"]) for o in erased] == [
        ("ERASED", "contact.erase", hashed("acme", P_UD))
    ]
    assert erased[0]["details"]["customers"] == 1
    assert await traces(conn, P_TRACES) == []
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = $1", Q_UD) == 1
    dead = 'SELECT count(*) FROM outbox WHERE headers @> \'[["ce_type", "contact-import.dead-letter.v1"]]\''
    assert await conn.fetchval(dead) == 0  # the tombstone was an erase request, not a dead letter


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "service", "contact", "erase", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_the_cli_erases_through_the_input_topic(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _started(settings, spawn, conn)
    await _import_both(settings)

    dry = _cli(settings, "--tenant", "acme", P_UD, "--dry-run", "--wait")
    assert dry.returncode == 0, dry.stderr
    [counted] = [orjson.loads(line) for line in dry.stdout.splitlines()]
    assert counted["status"] == "ERASED" and counted["dry_run"] is True and counted["details"]["customers"] == 1
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = $1", P_UD) == 1

    done = _cli(settings, "--tenant", "acme", P_UD, "nobody-here", "--wait", "--reason", "ticket 43")
    assert done.returncode == 0, done.stderr
    got = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [(o["status"], o["user_data"], o["details"]["customers"]) for o in got] == [
        ("ERASED", hashed("acme", P_UD), 1),
        ("ERASED", hashed("acme", "nobody-here"), 0),
    ]
    assert await traces(conn, P_TRACES) == []
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = $1", Q_UD) == 1


async def test_an_import_and_its_erasure_back_to_back(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    """One partition (one key), so the erasure follows the import, in the same batch or the next: the
    person is erased either way, and so are the batch's outcomes about them not yet in the outbox."""
    await _started(settings, spawn, conn)
    person = {"user_data": P_UD, "name": f"{P_FIRST} {P_LAST}", "phones": [{"number": P_PHONE}]}
    events = [
        contacts_event("acme", [person], event_id="import-1"),
        _erase_event([P_UD, Q_UD], "erase-1"),
        contacts_event("acme", [{"user_data": Q_UD, "name": Q_NAME}], event_id="import-2"),
    ]
    await produce(settings, events, key=b"acme")
    got = {(o["event_id"], o["record_index"]): o for o in await outcomes(settings, expect=4)}
    assert got[("erase-1", 0)]["status"] == "ERASED" and got[("erase-1", 0)]["details"]["customers"] == 1
    assert got[("erase-1", 1)]["details"]["customers"] == 0  # imported only after its erasure
    assert got[("import-2", 0)]["status"] == "ADDED"
    assert await traces(conn, P_TRACES) == []
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = $1", Q_UD) == 1


async def test_dead_letters_found_for_any_user_data(conn: asyncpg.Connection) -> None:
    """The store on its own: UserData with regex metacharacters, backslashes and non-ASCII, 1000 people
    in one request (its candidate search is split into expressions Postgres can compile)."""
    odd = ["a.b*c", "x\\y", "Zoë (ü)", "[1]|^$", "plain"]
    people = [EraseRecord("acme", u) for u in odd] + [EraseRecord("acme", f"{'long-' * 25}{i}") for i in range(995)]
    letters = [
        OutMessage("dlq", None, f"acme {u} not json".encode(), [("ce_type", scrub.DEAD_LETTER_TYPE)]) for u in odd
    ]
    other = OutMessage("dlq", None, b"acme someone-else", [("ce_type", scrub.DEAD_LETTER_TYPE)])
    await outbox.add(conn, [*letters, other])
    async with conn.transaction():
        done = await erasure.erase(conn, people)
    assert [d.details["dead_letters"] for d in done[:5]] == [1, 1, 1, 1, 1]
    left = [bytes(r["payload"]) for r in await conn.fetch("SELECT payload FROM outbox ORDER BY seq")]
    assert left == [scrub.PLACEHOLDER] * 5 + [b"acme someone-else"]
