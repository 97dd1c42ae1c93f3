"""The service's log is one stream of JSON: the records of the libraries (aiokafka here) come out as
structlog JSON lines like the service's own, and hold no personal data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from service.cli.embedded import Broker, free_port
from service.config import Settings
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce

NAME, PHONE, EMAIL = "Xylo Quarnby", "+4930555123987", "xylo.quarnby@example.org"


async def test_library_records_are_json_lines_without_personal_data(
    settings: Settings, spawn: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    broker = Broker(free_port(), tmp_path / "broker.log")  # its own broker: the test stops it
    broker.start()
    try:
        settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        svc = spawn(settings)
        svc.wait_log("partitions assigned")
        event = contacts_event("acme", [contact("L1", phone=PHONE, name=NAME, email=EMAIL), contact("L2", phone="x")])
        await produce(settings, [event, f"not json {NAME} {PHONE}".encode()], key=b"k")
        assert len(await outcomes(settings, expect=2)) == 2
        broker.stop()  # aiokafka warns that the group coordinator is gone, and logs errors
        svc.wait_log("Marking the coordinator dead")
        svc.wait_log("Unable connect to node")
    finally:
        broker.stop()
    svc.kill()

    not_json, records = [], []
    for line in svc.log().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            not_json.append(line)
    assert not not_json, "lines that are not JSON:\n" + "\n".join(not_json[:10])
    assert all(isinstance(r, dict) and {"event", "level", "timestamp", "logger"} <= r.keys() for r in records)
    from_aiokafka = [r for r in records if r["logger"].startswith("aiokafka")]
    assert any(r["level"] == "warning" and "Marking the coordinator dead" in r["event"] for r in from_aiokafka)
    assert any(r["level"] == "error" and "Unable connect to node" in r["event"] for r in from_aiokafka)
    assert any(r["logger"] == "service.app" and r["event"] == "service started" for r in records)
    leaked = [value for value in (NAME, PHONE, EMAIL) if value in svc.log()]
    assert not leaked, f"personal data in the logs: {leaked}"
