"""Job events for the jobs topic: accepted, progress, completed, failed, cancelled (with counts).

Written to the outbox in the transaction that changes the job, so none is lost; the id is derived
from the job, the kind and the rows read, so a re-sent event carries the same id. Each carries the
trace context of the request that made the job (``traceparent``/``tracestate``, attributes and headers).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import orjson

from service.model import trace
from service.pipeline.outcomes import EVENT_SOURCE, STRUCTURED, now_iso
from service.store.jobs import Job
from service.store.outbox import OutMessage

JOB_EVENT_TYPE = "contact-import.job.v1"
EVENT_NS = uuid.UUID("0e9d3c1b-8a7f-4e2d-b5c6-a1f2e3d4c5b6")
Kind = Literal["accepted", "progress", "completed", "failed", "cancelled"]


def message(topic: str, job: Job, kind: Kind) -> OutMessage:
    """The CloudEvent for ``job`` as it is now (structured mode), keyed by the job id."""
    data: dict[str, Any] = {
        "job_id": job.id,
        "event": kind,
        "state": job.state.value,
        "tenant": job.tenant,
        "campaign": job.campaign,
        "dialect": job.dialect,
        "request": {"event_source": job.event_source, "event_id": job.event_id},
        "source": job.location(),
        "format": job.format,
        "due_at": job.due_at.isoformat().replace("+00:00", "Z"),
        **({"due_zone": job.due_zone} if job.due_zone else {}),
        **job.counts(),
        "checkpoint": job.checkpoint,
    }
    if job.error_code is not None:
        data["error"] = {"code": job.error_code, "message": job.error_message or ""}
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(EVENT_NS, f"{job.id}\x1f{kind}\x1f{job.rows_read}")),
        "source": EVENT_SOURCE,
        "type": JOB_EVENT_TYPE,
        "subject": job.id,
        "time": now_iso(),
        "datacontenttype": "application/json",
        "data": data,
    }
    headers = [STRUCTURED, ("ce_type", JOB_EVENT_TYPE), ("job_event", kind)]
    if (ctx := trace.from_stored(job.trace_context)) is not None:
        event.update(ctx.attributes())
        headers += ctx.headers()
    return OutMessage(topic, job.id.encode(), orjson.dumps(event), headers)
