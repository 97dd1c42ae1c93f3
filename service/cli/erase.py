"""``contact-import contact erase --tenant T USER_DATA...``: publish a ``contact.erase`` event to the
input topic (so the erasure takes the service's exactly-once path, docs/erasure.md); ``--wait``:
print its outcomes (JSON lines) once they are on the results topic."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from service.config import Settings
from service.dialects.contact_erase import NAME
from service.kafka import clients

COMMAND = "contact"
SOURCE = "contact-import-cli"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(COMMAND, help="a person's data: erase it (GDPR right to erasure)")
    actions = parser.add_subparsers(dest="contact_command", required=True)
    erase = actions.add_parser("erase", help="erase people of a tenant by UserData (a contact.erase event)")
    erase.add_argument("--tenant", required=True)
    erase.add_argument("user_data", nargs="+", help="the UserData of each person (at most 1000)")
    erase.add_argument("--reason", help="why (a ticket reference): in the request only, neither logged nor stored")
    erase.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")
    erase.add_argument("--wait", action="store_true", help="wait for the outcomes and print them")
    erase.add_argument("--timeout", type=float, default=60.0, help="--wait: give up after this many seconds")


def event(args: argparse.Namespace) -> dict[str, Any]:
    """The ``contact.erase`` CloudEvent (structured mode) the command publishes."""
    data: dict[str, Any] = {"tenant": args.tenant, "user_data": list(dict.fromkeys(args.user_data))}
    if args.reason:
        data["reason"] = args.reason
    if args.dry_run:
        data["dry_run"] = True
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": NAME,
        "tenant": args.tenant,
        "datacontenttype": "application/json",
        "data": data,
    }


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Publish the event; with ``--wait``, 0 when every person is ERASED, else 1."""
    request = event(args)
    consumer = await _results_from_now(settings) if args.wait else None
    try:
        producer = clients.producer(settings, enable_idempotence=False)
        await producer.start()
        try:
            await producer.send_and_wait(settings.input_topic, orjson.dumps(request), key=args.tenant.encode())
        finally:
            await producer.stop()
        print(f"published erase request {request['id']}", file=sys.stderr)
        if consumer is None:
            return 0
        got = await _outcomes(consumer, request["id"], len(request["data"]["user_data"]), args.timeout)
    finally:
        if consumer is not None:
            await consumer.stop()
    for outcome in got:
        sys.stdout.write(orjson.dumps(outcome).decode() + "\n")
    if len(got) < len(request["data"]["user_data"]):
        print(f"only {len(got)} outcome(s) within {args.timeout:g} s", file=sys.stderr)
        return 1
    return 0 if all(o.get("status") == "ERASED" for o in got) else 1


async def _results_from_now(settings: Settings) -> AIOKafkaConsumer:
    consumer = clients.consumer(settings, group_id=None, isolation_level="read_committed")
    await consumer.start()
    parts = consumer.partitions_for_topic(settings.results_topic) or set()
    assigned = [TopicPartition(settings.results_topic, p) for p in sorted(parts)]
    consumer.assign(assigned)
    await consumer.seek_to_end(*assigned)
    for tp in assigned:
        await consumer.position(tp)  # fixes the starting point before the request is published
    return consumer


async def _outcomes(consumer: AIOKafkaConsumer, event_id: str, expect: int, timeout_s: float) -> list[Any]:
    """The outcomes of ``event_id`` (replay copies counted once), until ``expect`` or ``timeout_s``."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < expect and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for msgs in batch.values():
            for m in msgs:
                data = _data(m.value)
                if data is not None and data.get("event_id") == event_id:
                    found[str(data.get("outcome_id"))] = data
        await asyncio.sleep(0)
    return sorted(found.values(), key=lambda o: o.get("record_index", 0))


def _data(value: bytes | None) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    return data if isinstance(data, dict) else None
