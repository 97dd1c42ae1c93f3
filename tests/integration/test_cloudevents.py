"""Every output topic follows the CloudEvents Kafka binding: results and job events in structured mode,
dead letters in binary mode, read from the real broker with the official SDK (``cloudevents``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event, from_structured_event

from service.cli.deadletters import original_headers
from service.pipeline.job_events import JOB_EVENT_TYPE
from service.pipeline.outcomes import DEAD_LETTER_TYPE, RESULT_TYPE
from tests.jobs import customer_rows, importws_file, job_settings, setup_importws
from tests.servers import http_server, write_csv
from tests.support import ServiceProcess, contact, contacts_event, produce, read_topic

STRUCTURED = b"application/cloudevents+json"
BINARY_ORIGINAL = [("ce_type", b"contact.v1"), ("ce_id", b"e-bin"), ("ce_source", b"crm"), ("trace", b"t-1")]


def _kafka(m: Any) -> KafkaMessage:
    return KafkaMessage(headers={k: v for k, v in m.headers}, key=m.key, value=m.value)


async def test_results_dead_letters_and_job_events_are_cloudevents_by_the_kafka_binding(
    settings: Any, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)
    await setup_importws(conn)
    write_csv(tmp_path / "rows.csv", list(customer_rows(3)))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        await produce(s, [contacts_event("acme", [contact("CE-1")], event_id="ce-good")], key=b"CE-1")
        await produce(s, [b"\xff not json"], key=b"k-bad", headers=BINARY_ORIGINAL)
        await produce(s, [importws_file("ce-file", web.url("rows.csv"))])
        results = await read_topic(s.kafka_bootstrap, s.results_topic, expect=5, client=s.kafka_common())
        dead = await read_topic(s.kafka_bootstrap, s.dead_letter_topic, expect=1)
        jobs = await read_topic(s.kafka_bootstrap, s.jobs_topic, expect=2, idle_s=1)

    assert len(results) == 5
    for m in results:
        assert dict(m.headers)["content-type"] == STRUCTURED
        event = from_structured_event(_kafka(m))
        data = orjson.loads(m.value)["data"]
        assert (event.get_type(), event.get_source()) == (RESULT_TYPE, "contact-import")
        assert event.get_id() == data["outcome_id"] and event.get_data() == data
        assert event.get_extension("partitionkey") == m.key.decode()
    assert {e["data"]["status"] for e in map(orjson.loads, (m.value for m in results))} == {"ADDED", "ACCEPTED"}

    (letter,) = dead
    event = from_binary_event(_kafka(letter))
    assert (event.get_type(), event.get_source(), event.get_specversion()) == (
        DEAD_LETTER_TYPE,
        "contact-import",
        "1.0",
    )
    assert event.get_data() == b"\xff not json" and event.get_extension("dlqreason") == "not_json"
    h = {k: v.decode() for k, v in letter.headers}
    assert h["dlq_origin_topic"] == s.input_topic
    assert event.get_subject() == f"{s.input_topic}/{h['dlq_origin_partition']}/{h['dlq_origin_offset']}"
    assert event.get_id() and event.get_time() is not None
    # the original's own CloudEvents headers are kept aside, and restored when the dead letter is replayed
    assert dict(letter.headers)["dlq_header_ce_type"] == b"contact.v1"
    assert sorted(original_headers(letter.headers)) == sorted(BINARY_ORIGINAL)

    kinds = []
    for m in jobs:
        assert dict(m.headers)["content-type"] == STRUCTURED
        event = from_structured_event(_kafka(m))
        data = orjson.loads(m.value)["data"]
        assert (event.get_type(), event.get_source()) == (JOB_EVENT_TYPE, "contact-import")
        assert event.get_id() == orjson.loads(m.value)["id"] and event.get_data() == data
        assert event.get_subject() == data["job_id"]
        kinds.append(data["event"])
    assert kinds[0] == "accepted" and kinds[-1] == "completed"
