"""The W3C trace context of an input event reaches its outputs: a real service process, broker and
Postgres, spans not exported (no OTLP endpoint: the shipped default), so every output carries the
input's ``traceparent`` and ``tracestate`` as received."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from service.config import Settings
from service.model.job import JobState, job_id
from tests.jobs import TENANT, customer_rows, importws_file, job_settings, setup_importws, wait_job
from tests.servers import http_server, write_csv
from tests.support import ServiceProcess, contact, contacts_event, produce, read_topic

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
BINARY = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
DEAD = "00-5d3a9b3c1f7e4a2b8c6d0e1f2a3b4c5d-1a2b3c4d5e6f7081-00"
JOB = "00-9f8e7d6c5b4a39281706f5e4d3c2b1a0-0123456789abcdef-01"


def _traced(msg: Any) -> tuple[str | None, str | None]:
    """A published message's trace headers; a structured CloudEvent's attributes must say the same."""
    headers = {k: v.decode() for k, v in msg.headers}
    carried = headers.get("traceparent"), headers.get("tracestate")
    if headers.get("content-type") == "application/cloudevents+json":
        event = orjson.loads(msg.value)
        assert (event.get("traceparent"), event.get("tracestate")) == carried
    return carried


async def test_outcomes_dead_letters_and_job_events_carry_the_input_trace(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)  # file imports from the loopback test server (private addresses, a sealing key)
    await setup_importws(conn)
    write_csv(tmp_path / "rows.csv", customer_rows(3))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        # structured mode, the context in headers
        structured = contacts_event("acme", [contact("S1")], event_id="structured")
        await produce(s, [structured], headers=[("traceparent", PARENT.encode()), ("tracestate", b"k=v,a=b")])
        # binary mode, the CloudEvents binding's ce_traceparent header
        binary = [("ce_type", b"contact.v1"), ("ce_id", b"binary"), ("ce_source", b"tests")]
        data = {"tenant": "acme", "campaign": "camp", "contacts": [contact("B1")]}
        await produce(s, [data], headers=[*binary, ("ce_traceparent", BINARY.encode())])
        # undecodable, with a trace header
        await produce(s, [b"\xff not json"], headers=[("traceparent", DEAD.encode())])
        # a file import, the context as CloudEvents attributes; its job runs later
        request = {**importws_file("imp-traced", web.url("rows.csv")), "traceparent": JOB, "tracestate": "job=1"}
        await produce(s, [request])
        await wait_job(conn, job_id(TENANT, "tests", "imp-traced", 0), {JobState.COMPLETED})
        results = await read_topic(s.kafka_bootstrap, s.results_topic, expect=6)
        dead = await read_topic(s.kafka_bootstrap, s.dead_letter_topic, expect=1)
        job_events = await read_topic(s.kafka_bootstrap, s.jobs_topic, expect=2, idle_s=1.0)

    by_event: dict[str, set[tuple[str | None, str | None]]] = {}
    for m in results:
        by_event.setdefault(orjson.loads(m.value)["data"]["event_id"], set()).add(_traced(m))
    assert by_event == {
        "structured": {(PARENT, "k=v,a=b")},
        "binary": {(BINARY, None)},
        "imp-traced": {(JOB, "job=1")},  # the request's outcome and each row's, written by the job later
    }
    assert len(results) == 6
    (letter,) = dead
    assert _traced(letter) == (DEAD, None)
    assert dict(letter.headers)["ce_traceparent"].decode() == DEAD
    kinds = {orjson.loads(m.value)["data"]["event"]: _traced(m) for m in job_events}
    assert kinds["accepted"] == kinds["completed"] == (JOB, "job=1")
    assert set(kinds) <= {"accepted", "progress", "completed"}
    assert await conn.fetchval("SELECT trace_context FROM import_jobs") == f"{JOB} job=1"
