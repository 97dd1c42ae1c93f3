"""A stored offset below the partition's log start is never silent: logged with the topic, partition
and offsets skipped, counted, and consumption goes on from the log start; found on assignment and
while consuming.

tansu cannot delete records (no DeleteRecords, no retention in memory storage), so the broker sits
behind a loopback front (tests/log_start_proxy.py) that moves the partition's log start: it answers
ListOffsets(EARLIEST) with the new start and a fetch from below it with OFFSET_OUT_OF_RANGE, as a
truncated log does. The service is the real process; only the broker's answers about the start change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.cli.embedded import Broker, free_port
from service.config import Settings
from tests.integration.test_operations import http_get, sample
from tests.log_start_proxy import LogStartProxy
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce

SKIPPED = '"event":"stored offset is below the log start'


@pytest.fixture
def front(tmp_path: Path) -> Iterator[LogStartProxy]:
    port, broker_port = free_port(), free_port()
    broker = Broker(broker_port, tmp_path / "broker.log", advertised_port=port)
    broker.start()
    proxy = LogStartProxy(port, broker_port)
    proxy.start()
    yield proxy
    proxy.stop()
    broker.stop()


def _events(first: int, count: int) -> list[dict[str, object]]:
    return [contacts_event("acme", [contact(f"C{i}")], event_id=f"e{i}") for i in range(first, first + count)]


async def _skipped_metric(svc: ServiceProcess, topic: str) -> float:
    _, text = await http_get(svc.http_port(), "/metrics")
    return sample(text, f'contact_import_offsets_skipped_total{{partition="0",topic="{topic}"}}')


async def test_offsets_below_the_log_start_are_logged_counted_and_skipped(
    settings: Settings, spawn: Callable[..., ServiceProcess], front: LogStartProxy
) -> None:
    # one partition, so that the test knows every event's offset
    s = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{front.port}", "topic_partitions": 1})
    part = (s.input_topic, 0)
    svc = spawn(s, "first")
    svc.wait_log(r'"partitions assigned"')
    await produce(s, _events(0, 3))  # offsets 0..2
    assert [o["event_id"] for o in await outcomes(s, expect=3)] == ["e0", "e1", "e2"]

    # while consuming: the log now starts at 6, the consumer is at 3
    front.log_start[part] = 6
    svc.wait_log(SKIPPED)
    await produce(s, _events(3, 5))  # offsets 3..7: 3, 4 and 5 are gone
    seen = await outcomes(s, expect=5, idle_s=2)
    assert [o["event_id"] for o in seen] == ["e0", "e1", "e2", "e6", "e7"]
    line = re.findall(r"\{[^\n]*" + re.escape(SKIPPED) + r"[^\n]*\}", svc.log())[0]
    for field in (f'"topic":"{s.input_topic}"', '"partition":0', '"offsets_skipped":3', '"stored_offset":3',
                  '"log_start":6', '"detected":"while consuming"'):  # fmt: skip
        assert field in line, line
    assert await _skipped_metric(svc, s.input_topic) == 3
    assert svc.terminate() == 0

    # on assignment: the stored offset is 8, the log starts at 10
    await produce(s, _events(8, 4))  # offsets 8..11
    front.log_start[part] = 10
    again = spawn(s, "second")
    again.wait_log(SKIPPED)
    seen = await outcomes(s, expect=7, idle_s=2)
    assert [o["event_id"] for o in seen][5:] == ["e10", "e11"]
    assert '"offsets_skipped":2' in again.log() and '"detected":"on assignment"' in again.log()
    assert await _skipped_metric(again, s.input_topic) == 2
    assert front.earliest_rewritten >= 2 and front.fetches_refused >= 1
