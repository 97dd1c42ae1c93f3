"""A file-import request becomes a scheduled job, in the transaction of the event that asked for it."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import orjson

from service.config import Settings
from service.errors import ErrorDetail
from service.model.envelope import Envelope
from service.model.job import ImportRequest, job_id
from service.pipeline import admission, job_events, tracing
from service.runtime import egress
from service.sealing import SealError, seal
from service.store import jobs
from service.store.jobs import Job
from service.store.outbox import OutMessage


async def accept(
    conn: asyncpg.Connection, settings: Settings, env: Envelope, index: int, req: ImportRequest
) -> tuple[Job, OutMessage] | ErrorDetail:
    """Store the job (credentials sealed) and its ``accepted`` event; the job id is derived from the event.
    Without a sealing key, a request with credentials is refused (they are never stored in plain text);
    so is one that can be told now to be unable to run (``admission``: an unknown file server, …)."""
    refused = await admission.refusal(conn, settings, req)
    if refused is not None:
        return refused
    try:
        sealed = seal(credentials(req), settings) if req.username or req.password else None
    except SealError as exc:
        return ErrorDetail("import.credentials_not_stored", "/", str(exc))
    scheduled = req.schedule.at is not None or req.schedule.hour_minute is not None
    cap = min(req.max_rows, settings.import_max_rows) if req.max_rows else settings.import_max_rows
    job = await jobs.create(
        conn,
        job_id(req.tenant, env.event_source, env.event_id, index),
        env.dialect,
        req,
        sealed=sealed,
        due_at=req.schedule.due_at(datetime.now(UTC), settings.import_timezone),
        max_rows=cap,
        env=env,
        due_zone=(req.schedule.zone or settings.import_timezone) if scheduled else None,
        trace_context=tracing.carried(env.trace).stored() if env.trace is not None else None,
    )
    return job, job_events.message(settings.jobs_topic, job, "accepted")


async def precheck(settings: Settings, req: ImportRequest) -> ErrorDetail | None:
    """Why the request's URL will never be fetched, when that can be told now (a refused scheme or
    address); ``None`` otherwise. Runs before the transaction: a slow name lookup holds no lock."""
    if req.url is None:
        return None
    limits = egress.FetchLimits.from_settings(settings)
    refused = await egress.precheck(req.url, limits, settings.import_request_check_s)
    return None if refused is None else ErrorDetail(refused.code, req.url_pointer, refused.message)


def credentials(req: ImportRequest) -> str:
    """The login as the text that is sealed."""
    password = req.password.get_secret_value() if req.password is not None else None
    return orjson.dumps({"username": req.username, "password": password}).decode()
