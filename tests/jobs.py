"""Test helpers for file-import jobs: a job as the store would hold it, and waiting on a job's state."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from cryptography.fernet import Fernet
from pydantic import SecretStr

from service.catalog import store as catalog
from service.catalog.model import Campaign, PhonePolicy
from service.config import Settings
from service.dialects.importws_params import PARAMETERS
from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState, job_id
from service.store import jobs
from service.store.jobs import Job
from tests.support import ROOT, cloudevent, read_topic, settings_env


def job_for(env: Envelope, req: ImportRequest, index: int = 0) -> Job:
    """The job the processor stores for ``req`` (not stored; for building outcomes in unit tests)."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Job(
        id=job_id(req.tenant, env.event_source, env.event_id, index),
        tenant=req.tenant,
        dialect=env.dialect,
        campaign=req.campaign,
        state=JobState.SCHEDULED,
        due_at=req.schedule.due_at(now, "UTC"),
        source_kind=req.source_kind,
        source_url=req.url,
        source_secret=None,
        server_id=req.server_id,
        file_path=req.file_path,
        file_name=req.file_name,
        format=req.format,
        options=req.options,
        max_rows=req.max_rows or 1_000_000,
        total_rows=None,
        checkpoint=0,
        rows_read=0,
        rows_applied=0,
        rows_failed=0,
        error_code=None,
        error_message=None,
        lease_owner=None,
        lease_expires_at=None,
        attempts=0,
        event_source=env.event_source,
        event_id=env.event_id,
        event_topic=env.topic,
        event_partition=env.partition,
        event_offset=env.offset,
        event_time_ms=env.timestamp_ms,
        created_at=now,
        started_at=None,
        finished_at=None,
    )


async def wait_job(
    conn: asyncpg.Connection, job: str, states: set[JobState], *, timeout_s: float = 120, min_read: int = 0
) -> Job:
    """Poll until the job is in one of ``states`` (and has read at least ``min_read`` rows)."""
    deadline = time.monotonic() + timeout_s
    found = None
    while time.monotonic() < deadline:
        found = await jobs.get(conn, job)
        if found is not None and found.state in states and found.rows_read >= min_read:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job} not in {states} within {timeout_s}s: {found}")


# -- end to end ----------------------------------------------------------------------------------

TENANT = "team1"
CAMPAIGN = "C1"
FIELDS = {"name": "Name", "phone1": "Contact1", "tier": "Tier"}
HEADER = ["UserData", "Name", "Contact1", "Tier"]


def job_settings(settings: Settings, **overrides: Any) -> Settings:
    """``settings`` for file imports from the loopback test servers: private addresses allowed (the tests'
    servers are on 127.0.0.1), a sealing key, quick polling and small steps."""
    values: dict[str, Any] = {
        "import_allow_private_networks": True,
        "import_secret_key": SecretStr(Fernet.generate_key().decode()),
        "import_poll_s": 0.2,
        "import_rows_per_tx": 10,
        "import_progress_every": 10,
        "import_lease_s": 3.0,
    }
    return settings.model_copy(update={**values, **overrides})


async def setup_importws(conn: asyncpg.Connection, phone_policy: PhonePolicy = PhonePolicy.FLAG) -> None:
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_user(conn, TENANT, "agent", "8001", "s3cret")
    await catalog.add_campaign(conn, Campaign(TENANT, CAMPAIGN, "Spring", fields=FIELDS, phone_policy=phone_policy))


def importws_file(event_id: str, url: str, **changes: str) -> dict[str, Any]:
    """An importWS ``source=http`` call for the CSV at ``url`` (rows keyed by UserData, phone in Contact1)."""
    params = {name: "" for name in PARAMETERS}
    params.update(orgidentity=TENANT, usertype="agent", user="8001", pwdtype="plaintext", password="s3cret")
    params.update(modeltype="Campaign", model_id=CAMPAIGN, source="http", context=url, delrow="1")
    params.update(phone_field="Contact1", emptyagent="no", resetstatus="no", dupway="update")
    params.update(dupdiallist="ignoreDuplicate", changepackage="skip")
    return cloudevent({**params, **changes}, dialect="importws", event_id=event_id)


def customer_rows(n: int, prefix: str = "U") -> Iterator[list[str]]:
    """The header, then ``n`` customers with distinct keys and phones."""
    yield HEADER
    for i in range(n):
        yield [f"{prefix}{i}", f"Customer {i}", f"+4930{i:07d}", "gold"]


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def job_events(settings: Settings, expect: int, idle_s: float = 0.0) -> list[dict[str, Any]]:
    msgs = await read_topic(settings.kafka_bootstrap, settings.jobs_topic, expect=expect, idle_s=idle_s)
    return [orjson.loads(m.value)["data"] for m in msgs]
