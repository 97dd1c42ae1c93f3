"""Hostile input through a real service, broker and Postgres: nothing crashes, nothing stalls, nothing is
interpreted as SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from service.config import Settings
from tests.support import ServiceProcess, cloudevent, contact, contacts_event, outcomes, produce, read_topic

HOSTILE = [
    "'; DROP TABLE customers; --",
    "$1",
    "\\",
    "\\'",
    '"',
    "''",
    "%_*",
    "E'\\x41'",
    "$$; DELETE FROM outbox; $$",
    "1); TRUNCATE processed_events; --",
]


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


async def test_sql_metacharacters_in_every_field_are_stored_verbatim(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    records = [
        contact(
            f"U{i}{s}",
            name=s,
            email=f"{s.replace(' ', '')}@x" if "@" not in s else "a@x",
            status=s,
            agent=s,
            attributes={s: s, "k": s},
        )
        for i, s in enumerate(HOSTILE)
    ]
    event = contacts_event("acme", records, campaign="camp" + HOSTILE[0])
    await produce(settings, [event], key=b"k")
    got = sorted(await outcomes(settings, expect=len(HOSTILE)), key=lambda o: o["record_index"])
    assert [o["status"] for o in got] == ["ADDED"] * len(HOSTILE), [o["errors"] for o in got]
    for s, rec, out in zip(HOSTILE, records, got, strict=True):
        assert out["user_data"] == rec["user_data"] and out["campaign"] == "camp" + HOSTILE[0]
        assert out["contact"]["name"] == s and out["contact"]["attributes"][s] == s
        row = await conn.fetchrow(
            "SELECT data FROM customers WHERE tenant = $1 AND user_data = $2", "acme", rec["user_data"]
        )
        assert row is not None, rec["user_data"]
        data = orjson.loads(row["data"]) if isinstance(row["data"], str | bytes) else row["data"]
        assert data["name"] == s and data["email"] == rec["email"] and data["attributes"] == {s: s, "k": s}
        member = await conn.fetchrow(
            "SELECT status, agent FROM campaign_records WHERE tenant = 'acme' AND campaign = $1 AND user_data = $2",
            "camp" + HOSTILE[0],
            rec["user_data"],
        )
        assert member is not None and (member["status"], member["agent"]) == (s, s)
    # every table is still there and holds what it should
    assert await conn.fetchval("SELECT count(*) FROM customers") == len(HOSTILE)
    assert await conn.fetchval("SELECT count(*) FROM processed_events") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox") == len(HOSTILE)


async def test_invalid_utf8_nul_bytes_depth_and_sizes_fail_cleanly(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    nul = contacts_event("acme", [contact("N1", name="a\x00b"), contact("N2")], event_id="nul-1")
    nul_head = contacts_event("acme", [contact("H1"), contact("H2")], campaign="c\x00", event_id="nul-2")
    deep = contacts_event("acme", [contact("D1", attributes={"a": "b"})], event_id="deep-1")
    deep["data"]["contacts"][0]["extra"] = _nested(40)
    shallow = contacts_event("acme", [contact("S1")], event_id="shallow-1")
    shallow["data"]["contacts"][0]["extra"] = _nested(20)  # within the depth limit: a schema error
    phones = [{"number": f"+1555123{i:04d}"} for i in range(17)]
    many = contacts_event("acme", [contact("P1") | {"phones": phones}], event_id="phones-1")
    values: list[Any] = [
        b'{"specversion":"1.0","id":"u","source":"s","type":"contact.v1","data":{"tenant":"\xff\xfe"}}',
        b"\xc3\x28 plain bytes",
        nul,
        nul_head,
        cloudevent({"tenant": "acme"}, event_id="id-with-\x00-nul"),
        deep,
        shallow,
        many,
        contacts_event("acme", [contact("after")], event_id="good-1"),
    ]
    await produce(settings, values, key=b"k")
    # 7 outcomes: the two undecodable messages, the NUL event id and the too-deep event are dead letters
    got = await outcomes(settings, expect=7, idle_s=1.0)
    by_event = {(o["event_id"], o["record_index"]): o for o in got}
    assert len(got) == 7 and len(by_event) == 7
    # NUL in a record's string: that record FAILED at validation with a code and the pointer, the other
    # records of the event proceed; a NUL outside the records fails every record of the event
    failed = by_event[("nul-1", 0)]["errors"]
    assert [(e["code"], e["path"]) for e in failed] == [("input.nul_byte", "/contacts/0/name")]
    assert (by_event[("nul-1", 1)]["status"], by_event[("nul-1", 1)]["errors"]) == ("ADDED", [])
    for i in (0, 1):
        assert by_event[("nul-2", i)]["status"] == "FAILED"
        assert [(e["code"], e["path"]) for e in by_event[("nul-2", i)]["errors"]] == [("input.nul_byte", "/campaign")]
    stored = await conn.fetch("SELECT user_data FROM customers WHERE user_data IN ('N1', 'N2', 'H1', 'H2')")
    assert [r["user_data"] for r in stored] == ["N2"]
    # 20 levels: a normal schema error; 17 phones: the schema's array limit
    assert by_event[("shallow-1", 0)]["errors"][0]["code"] == "schema.unknown_field"
    phone_errs = by_event[("phones-1", 0)]["errors"]
    assert [(e["code"], e["path"]) for e in phone_errs] == [("schema.too_many", "/contacts/0/phones")]
    assert by_event[("good-1", 0)]["status"] == "ADDED"

    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=4)
    reasons = [dict(m.headers)["dlq_reason"].decode() for m in dead]
    assert reasons == ["not_json", "not_json", "bad_envelope", "too_deep"]
    assert dead[0].value == values[0] and dead[1].value == values[1]  # kept byte for byte
    assert "service exited" not in svc.log() and svc.proc is not None and svc.proc.poll() is None


async def test_a_nul_in_a_header_of_a_dead_letter_does_not_stall_the_stream(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    await produce(settings, [b"not json"], key=b"k", headers=[("trace", b"a\x00b"), ("bin", b"\xff")])
    await produce(settings, [contacts_event("acme", [contact("after-header")])], key=b"k")
    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=1)
    headers = dict(dead[0].headers)
    assert headers["dlq_reason"] == b"bad_envelope"  # the header that is not UTF-8
    assert headers["trace"] == "a\ufffdb".encode()  # jsonb in the outbox refuses NUL: replaced
    got = await outcomes(settings, expect=1)
    assert got[0]["user_data"] == "after-header" and got[0]["status"] == "ADDED"
