"""Static group membership on the embedded broker: a replica killed with SIGKILL and started again
under the same CIS_KAFKA_GROUP_INSTANCE_ID gets its partitions back and imports every event once.
(How long it takes is measured by bench/recovery.py, never asserted here.)"""

from __future__ import annotations

from collections.abc import Callable

from service.config import Settings
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce


def _events(first: int, count: int) -> list[dict[str, object]]:
    return [contacts_event("acme", [contact(f"S{i}")], event_id=f"s{i}") for i in range(first, first + count)]


async def test_a_static_member_restarted_after_kill_9_resumes(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    # static membership is what this test is about; the shipped default is dynamic
    s = settings.model_copy(update={"kafka_group_instance_id": "replica-0"})
    first = spawn(s, "first")
    first.wait_log(r'"static":true')
    first.wait_log(r'"partitions assigned"')
    await produce(s, _events(0, 5))
    await outcomes(s, expect=5)
    first.kill()

    await produce(s, _events(5, 5))
    again = spawn(s, "again")
    again.wait_log(r'"partitions assigned"')
    seen = await outcomes(s, expect=10, idle_s=2)
    by_id = {o["outcome_id"]: o for o in seen}  # outcomes published twice after the kill keep their id
    assert sorted(o["event_id"] for o in by_id.values()) == sorted(f"s{i}" for i in range(10))
    assert {o["status"] for o in by_id.values()} == {"ADDED"}
