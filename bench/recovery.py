"""Recovery times with real processes on loopback: ``.venv/bin/python -m bench.recovery [--runs N]``.

On a fresh embedded broker and Postgres per measurement, with events fed at 20/s:

- ``kill9`` / ``kill9-static``: one replica is killed with SIGKILL and started again at once (without and
  with ``CIS_KAFKA_GROUP_INSTANCE_ID``); from the kill to its first commit, split into start-up (to
  "service started"), joining the group (to "partitions assigned") and the first batch.
- ``pg-outage``: Postgres is stopped for 3 s under one replica; from the first commit after it is back
  to the first ``/readyz`` 200 (polled every 20 ms).
- ``frozen``: one of two replicas is frozen (SIGSTOP) inside a transaction; from the freeze to the
  server ending its transaction, and to the other replica committing on the frozen one's partitions.

Medians of ``--runs`` (3) runs; every run printed and written to bench/results/recovery-<label>.json.
``BENCH_SERVICE_SETTINGS`` (JSON of ``CIS_*`` variables) changes the service's settings, e.g. the session timeout.
Service settings are the shipped defaults, except the embedded stack's (one broker) and the fetch wait.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from bench.infra import Session, Stack
from bench.service_proc import ServiceProcess, service_settings
from service.cli.embedded import FETCH_MAX_WAIT_MS
from service.config import Settings
from tests.support import contact, contacts_event

RESULTS = Path(__file__).resolve().parent / "results"
Scenario = Callable[[Stack, Session, Path], Awaitable[dict[str, float]]]


def events(path: Path, name: str, since: float = 0.0) -> list[float]:
    """Wall-clock times of the log lines ``name`` of a service log written after ``since``."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if f'"event":"{name}"' not in line:
            continue
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(orjson.loads(line)["timestamp"].replace("Z", "+00:00")).timestamp()
            if at >= since:
                out.append(at)
    return out


async def wait_event(svc: ServiceProcess, name: str, since: float, timeout_s: float = 120) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = events(svc.log_path, name, since)
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name!r} not logged within {timeout_s}s:\n{svc.log()[-2000:]}")


@contextlib.asynccontextmanager
async def feed(settings: Settings, per_s: float = 20, contacts: int = 1) -> AsyncIterator[None]:
    producer = AIOKafkaProducer(**settings.kafka_common(), enable_idempotence=False)
    await producer.start()

    async def run() -> None:
        n = 0
        while True:
            n += 1
            batch = [contact(f"U{n}-{i}") for i in range(contacts)]
            await producer.send(settings.input_topic, orjson.dumps(contacts_event("acme", batch)), key=str(n).encode())
            await asyncio.sleep(1 / per_s)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()


def settings_of(session: Session, **overrides: Any) -> Settings:
    return session.settings(kafka_fetch_max_wait_ms=FETCH_MAX_WAIT_MS, **overrides)


def service(s: Settings, folder: Path, name: str) -> ServiceProcess:
    sub = folder / name
    sub.mkdir(parents=True, exist_ok=True)
    return ServiceProcess(s, sub).start()


async def kill9(static: bool, stack: Stack, session: Session, folder: Path) -> dict[str, float]:
    s = settings_of(session, kafka_group_instance_id="bench-0" if static else "")
    first = service(s, folder, "first")
    async with feed(s):
        await wait_event(first, "batch committed", 0)
        await asyncio.sleep(2)
        assert first.proc is not None
        killed = time.time()
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(30)
        again = service(s, folder, "again")
        try:
            joining = await wait_event(again, "joining the consumer group", killed)
            assigned = await wait_event(again, "partitions assigned", killed)
            committed = await wait_event(again, "batch committed", killed)
        finally:
            again.stop()
    return {
        "kill_to_commit_s": committed - killed,
        "start_up_s": joining - killed,  # interpreter, imports, migrations, topics, producer, catalog
        "join_s": assigned - joining,
        "first_batch_s": committed - assigned,
    }


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def until_ready(port: int, wanted: bool) -> float:
    """The time /readyz (polled every 20 ms) first answers ``wanted``."""
    while True:
        if await asyncio.to_thread(ready, port) == wanted:
            return time.time()
        await asyncio.sleep(0.02)


async def pg_outage(stack: Stack, session: Session, folder: Path) -> dict[str, float]:
    s = settings_of(session)
    svc = service(s, folder, "svc")
    port = int((await svc.wait_log(r'"port":(\d+),"event":"http endpoint listening"')).split(":")[1].split(",")[0])
    async with feed(s):
        await wait_event(svc, "batch committed", 0)
        await asyncio.to_thread(stack.database.pg_ctl, "-w", "stop", "-m", "fast")
        down = time.time()
        not_ready = await until_ready(port, False)
        await asyncio.sleep(3)
        await asyncio.to_thread(stack.database.start_again)
        back = time.time()
        is_ready = await until_ready(port, True)
        committed = await wait_event(svc, "batch committed", back)
        svc.stop()
    return {
        "down_to_503_s": not_ready - down,
        "back_to_commit_s": committed - back,
        "commit_to_ready_s": is_ready - committed,
    }


async def _idle_in_transaction(conn: asyncpg.Connection, older_s: float) -> int | None:
    pid: int | None = await conn.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction'"
        " AND now() - state_change > make_interval(secs => $1) LIMIT 1",
        older_s,
    )
    return pid


async def _offsets(conn: asyncpg.Connection, s: Settings) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
        s.group_id,
        s.input_topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


_BACKEND = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"


async def _freeze_in_transaction(a: ServiceProcess, conn: asyncpg.Connection) -> tuple[float, int]:
    """SIGSTOP ``a`` until it is caught with a transaction open (one idle in it for 0.5 s)."""
    assert a.proc is not None
    for attempt in range(200):
        os.kill(a.proc.pid, signal.SIGSTOP)
        frozen = time.time()
        await asyncio.sleep(0.6)
        pid = await _idle_in_transaction(conn, 0.5)
        if pid is not None:
            return frozen, pid
        os.kill(a.proc.pid, signal.SIGCONT)
        await asyncio.sleep(0.05 + (attempt % 7) * 0.03)
    raise RuntimeError("never caught the replica inside a transaction")


async def frozen(stack: Stack, session: Session, folder: Path) -> dict[str, float]:
    s = settings_of(session)
    a, b = service(s, folder, "a"), service(s, folder, "b")
    conn = await asyncpg.connect(session.dsn)
    try:
        async with feed(s, per_s=40, contacts=50):
            await wait_event(a, "batch committed", 0)
            await wait_event(b, "batch committed", 0)
            await asyncio.sleep(3)
            t0, pid = await _freeze_in_transaction(a, conn)
            before = await _offsets(conn, s)
            assigned = a.log().rsplit('"partitions assigned"', 1)[0].rsplit('{"partitions":[', 1)[1].split("]")[0]
            mine = {int(p) for p in assigned.split(",") if p}
            ended = taken = None
            while taken is None and time.time() - t0 < 180:
                if ended is None and not await conn.fetchval(_BACKEND, pid):
                    ended = time.time()
                now = await _offsets(conn, s)
                if any(now.get(p, 0) > before.get(p, 0) for p in mine):
                    taken = time.time()
                await asyncio.sleep(0.05)
            rebalanced = await wait_event(b, "partitions assigned", t0)
    finally:
        await conn.close()
        if a.proc is not None:
            os.kill(a.proc.pid, signal.SIGCONT)
        a.stop()
        b.stop()
    if ended is None or taken is None:
        raise RuntimeError("the frozen transaction was not ended, or its partitions not taken over, in 180 s")
    return {
        "freeze_to_tx_ended_s": ended - t0,
        "freeze_to_rebalance_s": rebalanced - t0,
        "freeze_to_other_commits_s": taken - t0,
    }


SCENARIOS: dict[str, Scenario] = {
    "kill9": lambda st, se, f: kill9(False, st, se, f),
    "kill9-static": lambda st, se, f: kill9(True, st, se, f),
    "pg-outage": pg_outage,
    "frozen": frozen,
}


async def main(names: list[str], runs: int) -> dict[str, Any]:
    stack = Stack()
    stack.start()
    report: dict[str, Any] = {}
    try:
        for name in names:
            samples = []
            for run in range(runs):
                async with stack.session(name) as session:
                    result = await SCENARIOS[name](stack, session, session.dir)
                print(name, run + 1, {k: round(v, 2) for k, v in result.items()}, flush=True)
                samples.append(result)
            medians = {k: round(statistics.median(r[k] for r in samples), 2) for k in samples[0]}
            report[name] = {"median": medians, "runs": samples}
            print(name, "median", medians, flush=True)
    finally:
        stack.stop()
    return report


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="defaults", help="results go to bench/results/recovery-<label>.json")
    parser.add_argument("scenarios", nargs="*", help=f"some of {', '.join(SCENARIOS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.scenarios) - SCENARIOS.keys()
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    report = asyncio.run(main(args.scenarios or list(SCENARIOS), args.runs))
    report["service_settings"] = service_settings()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"recovery-{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    cli()
