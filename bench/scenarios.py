"""One measurement each: the service end to end, at a paced load (latency), and the naive baseline.

The clock starts at the first produce and stops when the last expected outcome is read from the
results topic. The input is produced concurrently with the service running, as fast as the client
goes, which is well ahead of the service (``produce_s`` in the results shows by how much).
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from bench import cpu, workload
from bench.infra import Session, Stack
from bench.kafka_io import (
    OutcomeReader,
    Outcomes,
    Produced,
    create_topics,
    produce_all,
    produce_paced,
    producer,
    topic_size,
)
from bench.service_proc import ROOT, ServiceProcess
from bench.workload import Workload
from service.config import Settings


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def accounting(wl: Workload, got: Outcomes, dead_letters: int) -> dict[str, Any]:
    """Every record has exactly one outcome; the FAILED and ADDED counts are exactly the planned ones."""
    e = wl.expected
    checks = {
        "all_outcomes": got.count == e.records,
        "failed_is_invalid": got.statuses.get("FAILED", 0) == e.invalid,
        "added_is_distinct": got.statuses.get("ADDED", 0) == e.distinct,
        "no_dead_letters": dead_letters == 0,
    }
    return {"checks": checks, "ok": all(checks.values())}


async def _stored(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM customers"))
    finally:
        await conn.close()


def meter(stack: Stack, s: Session, consumer_pid: int | None) -> cpu.CpuMeter:
    """CPU of the consumer under test (the service or the naive one), Postgres, the broker and this harness."""
    return cpu.CpuMeter(
        {
            "consumer": lambda: [consumer_pid] if consumer_pid else [],
            "postgres": lambda: cpu.postgres_pids(stack.database.path),
            "broker": lambda: cpu.broker_pids(s.bootstrap),
            "harness": lambda: [os.getpid()],
        }
    )


def cpu_per_record(cpu_s: dict[str, float | None], records: int) -> dict[str, float | None]:
    """CPU microseconds per record, per process group."""
    return {k: round(v / records * 1e6, 1) if v is not None and records else None for k, v in cpu_s.items()}


async def _drive(
    s: Session,
    settings: Settings,
    wl: Workload,
    timeout_s: float,
    cpu_meter: cpu.CpuMeter,
    *,
    paced: float | None = None,
) -> tuple[Produced, Outcomes, dict[str, float | None]]:
    """Produce ``wl`` into the consumer's input and read its outcomes; the consumer is ready."""
    reader = OutcomeReader(s.bootstrap, settings.results_topic, latency=paced is not None)
    await reader.start()
    # linger 5 ms: Kafka's producer default since 4.0; a record's latency is counted from its
    # timestamp, taken when it is handed to the client, so the linger is included
    prod = producer(s.bootstrap, linger_ms=5)
    await prod.start()
    cpu_meter.start()
    try:
        if paced is None:
            task = asyncio.create_task(produce_all(prod, settings.input_topic, wl.messages))
        else:
            task = asyncio.create_task(produce_paced(prod, settings.input_topic, wl.messages, paced))
        got = await reader.read(wl.records, timeout_s)
        used = cpu_meter.stop()
        produced = await task
    finally:
        await reader.stop()
        await prod.stop()
    return produced, got, used


async def service_e2e(
    stack: Stack, wl: Workload, *, timeout_s: float, profile: Path | None = None, paced: float | None = None
) -> dict[str, Any]:
    """The service as a real process, fresh broker and database; ``paced`` is messages per second."""
    name = wl.dialect.replace(".", "") + ("-latency" if paced else "")
    async with stack.session(name, dialler_catalog=wl.dialect == "dialler") as s:
        svc = ServiceProcess(s.settings(), s.dir).start()
        load = os.getloadavg()[0]
        try:
            await svc.ready()
            profiled = svc.attach_profiler(profile) if profile else False
            assert svc.proc is not None
            cpu_meter = meter(stack, s, svc.proc.pid)
            produced, got, used = await _drive(s, svc.settings, wl, timeout_s, cpu_meter, paced=paced)
            metrics = await svc.metrics()
            dead = await topic_size(s.bootstrap, svc.settings.dead_letter_topic)
        finally:
            exit_code = svc.stop()
        stored = await _stored(s.dsn)
    elapsed = got.last_at - produced.first_at if got.count else float("nan")
    out: dict[str, Any] = {
        "workload": wl.name,
        "records": wl.records,
        "events": wl.events,
        "seconds": round(elapsed, 3),
        "rate": round(got.count / elapsed, 1) if got.count else 0.0,
        "produce_s": round(produced.done_at - produced.first_at, 3),
        "outcomes": got.count,
        "statuses": got.statuses,
        "expected": {
            "ADDED": wl.expected.distinct,
            "UNCHANGED": wl.expected.same,
            "UPDATED": wl.expected.changed,
            "FAILED": wl.expected.invalid,
        },
        "stored_customers": stored,
        "dead_letters": dead,
        "peak_rss_mib": svc.peak_rss_mib(),
        "service_exit": exit_code,
        "timed_out": got.timed_out,
        "loadavg_1m_at_start": round(load, 2),
        "service_metrics": metrics,
        "cpu_s": used,
        "cpu_us_per_record": cpu_per_record(used, got.count),
        **accounting(wl, got, dead),
    }
    if profile is not None:
        out["profile"] = str(profile) if profiled else None
    if paced is not None:
        out["latency_ms"] = _latency(got.latencies_ms)
        out["service_latency_ms"] = _latency(got.service_ms)
        out["offered_rate"] = round(paced * wl.per_event, 1)
    return out


def _latency(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": round(max(values), 1) if values else None,
    }


async def latency(
    stack: Stack,
    *,
    rate: float,
    seconds: float,
    per_event: int,
    dialect: str,
    timeout_s: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    """A fixed offered load of ``rate`` records/s for ``seconds``: produce → outcome percentiles."""
    records = max(per_event, int(rate * seconds) // per_event * per_event)
    if dialect == "dialler":
        wl = workload.dialler_workload(records, tag="l")
    else:
        wl = workload.contact_v1_workload(records, per_event, tag="l")
    return await service_e2e(stack, wl, timeout_s=timeout_s, paced=rate / wl.per_event, profile=profile)


async def naive(stack: Stack, wl: Workload, *, timeout_s: float) -> dict[str, Any]:
    """The baseline consumer (bench/naive.py) as its own process, on the same kind of input."""
    async with stack.session("naive") as s:
        settings = s.settings()
        await create_topics(s.bootstrap, [settings.input_topic, settings.results_topic], settings.topic_partitions)
        proc = _start_naive([s.bootstrap, s.dsn, settings.input_topic, settings.results_topic])
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
            if line.strip() != b"ready":
                raise RuntimeError(f"naive consumer did not start: {line!r}")
            produced, got, used = await _drive(s, settings, wl, timeout_s, meter(stack, s, proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stored = await _stored(s.dsn)
    elapsed = got.last_at - produced.first_at if got.count else float("nan")
    return {
        "workload": wl.name,
        "records": wl.records,
        "events": wl.events,
        "seconds": round(elapsed, 3),
        "rate": round(got.count / elapsed, 1) if got.count else 0.0,
        "outcomes": got.count,
        "stored_customers": stored,
        "timed_out": got.timed_out,
        "cpu_s": used,
        "cpu_us_per_record": cpu_per_record(used, got.count),
        "ok": got.count == wl.records and stored == wl.expected.distinct + wl.expected.invalid,
    }


def _start_naive(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.naive", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def deadline(records: int, scale: float) -> float:
    """How long one measurement may take: generous (200 records/s), but bounded."""
    return scale * (60 + records / 200)
