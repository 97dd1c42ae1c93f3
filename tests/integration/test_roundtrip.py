"""contact.v1 end to end through a real service process, broker and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from service.config import Settings
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce, read_topic


async def test_statuses_sequential_semantics_and_replay(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    first = contacts_event(
        "acme",
        [
            contact("U1", name="Ada"),
            contact("U1", name="Ada L."),  # same key twice in one event: applied in order
            contact("U2", phone="12"),  # invalid phone
            contact("U3"),
        ],
        event_id="ev-1",
    )
    await produce(settings, [first], key=b"acme")
    got = await outcomes(settings, expect=4)
    by_index = {o["record_index"]: o for o in got}
    assert [by_index[i]["status"] for i in range(4)] == ["ADDED", "UPDATED", "FAILED", "ADDED"]
    assert by_index[1]["contact"]["name"] == "Ada L." and by_index[1]["version"] == 2
    err = by_index[2]["errors"][0]
    assert err["code"] == "schema.bad_format" and err["path"] == "/contacts/2/phones/0/number"

    # identical re-import under a new event id: UNCHANGED; insert_only: ALREADY_EXISTS
    again = contacts_event("acme", [contact("U1", name="Ada L.")], event_id="ev-2")
    keep = contacts_event("acme", [contact("U3", name="Other")], event_id="ev-3", mode="insert_only")
    await produce(settings, [again, keep], key=b"acme")
    got = await outcomes(settings, expect=6)
    later = {(o["event_id"], o["status"]) for o in got if o["event_id"] != "ev-1"}
    assert later == {("ev-2", "UNCHANGED"), ("ev-3", "ALREADY_EXISTS")}

    # the same event id again: not re-applied, the original outcomes are re-emitted with the same ids
    await produce(settings, [first], key=b"acme")
    got = await outcomes(settings, expect=10)
    first_ids = [o["outcome_id"] for o in got if o["event_id"] == "ev-1"]
    assert len(first_ids) == 8 and all(first_ids.count(i) == 2 for i in first_ids)  # each re-sent once
    assert await conn.fetchval("SELECT version FROM customers WHERE tenant='acme' AND user_data='U1'") == 2
    assert await conn.fetchval("SELECT count(*) FROM customers") == 2
    assert await conn.fetchval("SELECT count(*) FROM processed_events") == 3
    msgs = await read_topic(settings.kafka_bootstrap, settings.results_topic, expect=10)
    assert {m.key for m in msgs} == {b"U1", b"U2", b"U3"}


async def test_undecodable_messages_are_dead_lettered_and_the_stream_goes_on(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    settings = settings.model_copy(update={"max_message_bytes": 2000})
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    bad: list[Any] = [
        b"\xff\xfe not json",
        {"hello": "no envelope"},
        {"specversion": "1.0", "id": "x", "source": "s", "type": "nobody.speaks.this", "data": {}},
        {"specversion": "1.0", "id": "y", "source": "s", "type": "contact.v1", "data": {"pad": "x" * 3000}},
    ]
    good = contacts_event("acme", [contact("after-bad")])
    await produce(settings, [*bad, good], key=b"k")
    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=4)
    reasons = [dict(m.headers)["dlq_reason"].decode() for m in dead]
    assert reasons == ["not_json", "bad_envelope", "unknown_dialect", "too_large"]
    for m in dead:
        h = dict(m.headers)
        assert h["dlq_origin_topic"].decode() == settings.input_topic
        assert int(h["dlq_origin_offset"]) >= 0 and h["dlq_message"]
    assert dead[0].value == bad[0]
    got = await outcomes(settings, expect=1)
    assert got[0]["user_data"] == "after-bad" and got[0]["status"] == "ADDED"
