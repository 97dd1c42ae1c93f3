"""Build outcome and dead-letter messages for the outbox."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import structlog

from service.dialects.base import Dialect
from service.errors import UndecodableMessage
from service.model import trace
from service.model.envelope import Envelope
from service.model.job import ImportRequest
from service.model.outcome import ErrorModel, Outcome, Source, Status, outcome_id
from service.model.records import Parsed, Rejected
from service.model.trace import TraceContext
from service.pipeline import tracing
from service.store.contacts import Applied
from service.store.dnc import DncApplied
from service.store.erasure import Erased
from service.store.jobs import Job
from service.store.outbox import OutMessage

RESULT_TYPE = "contact-import.outcome.v1"
DEAD_LETTER_TYPE = "contact-import.dead-letter.v1"
EVENT_SOURCE = "contact-import"
STRUCTURED = ("content-type", "application/cloudevents+json")  # the Kafka binding's structured mode
REDACTED_HEADER = "dlq_redacted"
KEPT_HEADER = "dlq_header_"  # an original ce_* or content-type header, kept under this prefix
_DEAD_LETTER_NS = uuid.UUID("6a1e0b7c-2f43-4d8e-9c15-7b3a90d2e4f1")
DRY_RUN_SALT = "\x1fdry-run"  # a dry run's outcome ids differ from the real run's of the same event
_MASK = b"***"
# importWS credentials as query-string parameters (any case, also inside a JSON string) ...
_QUERY_SECRET = re.compile(rb"(?i)((?<![a-z0-9_])(?:password|source_pwd)\s*=)(?:\\.|[^&\"\\\r\n])+")
# ... and as JSON members, whatever the value's type (empty strings are left alone)
_JSON_SECRET = re.compile(rb'(?i)("(?:password|source_pwd)"\s*:\s*)(?:"(?:\\.|[^"\\])+"|[^,}\]\s"]+)')
log = structlog.get_logger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def _received(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(
    dialect: Dialect,
    env: Envelope,
    index: int,
    parsed: Parsed,
    applied: Applied | DncApplied | Erased | None,
    processed_at: str,
    *,
    unclaimed: bool = False,
    job: Job | None = None,
    details: dict[str, Any] | None = None,
) -> Outcome:
    """The outcome of one record: ``applied`` for a stored record, ``job`` for an accepted file import;
    ``details`` are added to the outcome's details (a file row's job and row number). An unclaimed
    event's (denied, or an id conflict) outcome ids are also derived from the message's position, so
    they never equal those of the event that owns the id; a dry run's differ from the real run's."""
    # model_construct: every value below is the service's own and already typed, and validating
    # them again per record cost more than the rest of building the outcome
    rec, change = parsed.record, parsed.change
    scope = f"{env.event_source}\x1f{env.event_id}{DRY_RUN_SALT if env.dry_run else ''}"
    if unclaimed:
        scope += f"\x1f{env.topic}/{env.partition}/{env.offset}"
    common: dict[str, Any] = {
        "outcome_id": outcome_id(scope, index),
        "event_id": env.event_id,
        "record_index": index,
        "dialect": env.dialect,
        "warnings": [ErrorModel.of(w) for w in parsed.warnings],
        "source": Source.model_construct(topic=env.topic, partition=env.partition, offset=env.offset),
        "received_at": _received(env.timestamp_ms),
        "processed_at": processed_at,
    }
    if parsed.erase is not None and isinstance(applied, Erased):
        out = Outcome.model_construct(
            tenant=parsed.erase.tenant,
            user_data=applied.subject,
            status=Status.ERASED,
            details=applied.details,
            dry_run=applied.dry_run,
            **common,
        )
    elif change is not None and isinstance(applied, DncApplied):
        out = Outcome.model_construct(
            tenant=change.tenant or None,
            user_data=change.phone,
            status=applied.status,
            errors=[ErrorModel.of(e) for e in applied.errors],
            details=applied.details,
            dry_run=change.dry_run,
            **common,
        )
    elif isinstance(rec, Rejected):
        out = Outcome.model_construct(
            tenant=rec.tenant,
            campaign=rec.campaign,
            user_data=rec.user_data,
            status=Status.FAILED,
            errors=[ErrorModel.of(e) for e in rec.errors],
            dry_run=env.dry_run,
            **common,
        )
    elif isinstance(rec, ImportRequest):
        assert job is not None
        out = Outcome.model_construct(
            tenant=rec.tenant,
            campaign=rec.campaign,
            status=Status.ACCEPTED,
            details={
                "job_id": job.id,
                "due_at": job.due_at.isoformat().replace("+00:00", "Z"),
                **({"due_zone": job.due_zone} if job.due_zone else {}),
                "source": job.location(),
            },
            **common,
        )
    else:
        assert isinstance(applied, Applied)
        moved = {"moved_from": applied.moved_from} if applied.moved_from else {}
        out = Outcome.model_construct(
            tenant=rec.tenant,
            campaign=rec.campaign,
            user_data=applied.contact.get("user_data") or rec.contact.user_data or None,
            status=applied.status,
            errors=[ErrorModel.of(e) for e in applied.errors],
            contact=applied.contact or None,
            dial_list=applied.dial_list,
            version=applied.version or None,
            record_id=applied.record_id,
            details={**moved, **applied.details},
            dry_run=rec.policy.dry_run,
            **common,
        )
    if details:
        out.details = {**out.details, **details}
    try:
        out.native = dialect.native(out)
    except Exception:  # a dialect bug must not stop the stream: the outcome goes out without it
        log.exception("dialect native response failed", dialect=env.dialect, event_id=env.event_id)
        out.warnings.append(ErrorModel(code="internal.native_response", path="/", message="no native response"))
    return out


def to_message(out: Outcome, topic: str, env: Envelope, *, replayable: bool = True) -> OutMessage:
    """The results-topic message: a structured CloudEvent (the Kafka binding's structured mode: header
    ``content-type: application/cloudevents+json``) keyed by UserData. ``replayable``: kept
    with the event id, to be re-sent when the event is published again. The event's trace context goes
    with it: headers ``traceparent``/``tracestate`` and the CloudEvents attributes of the same names."""
    event: dict[str, Any] = {"specversion": "1.0", "id": out.outcome_id, "source": EVENT_SOURCE, "type": RESULT_TYPE}
    if out.user_data:  # CloudEvents: subject, when present, is a non-empty string
        event["subject"] = out.user_data
    event.update(time=out.processed_at, datacontenttype="application/json")
    headers = [STRUCTURED, ("ce_type", RESULT_TYPE), ("outcome_status", out.status.value)]
    if env.trace is not None:
        ctx = tracing.carried(env.trace)
        event.update(ctx.attributes())
        headers += ctx.headers()
    event["data"] = out.model_dump(mode="json", exclude_none=True)
    key = (out.user_data or env.event_id).encode()
    if env.dry_run:  # not kept for re-emission: a later real event with the same id applies anew
        return OutMessage(topic, key, orjson.dumps(event), [*headers, ("dry_run", "true")])
    if not replayable:
        return OutMessage(topic, key, orjson.dumps(event), headers)
    return OutMessage(topic, key, orjson.dumps(event), headers, env.event_source, env.event_id)


def redact(value: bytes) -> tuple[bytes, bool]:
    """``value`` with importWS passwords replaced by ``***`` (best effort, any bytes); and whether any was."""
    out, n_json = _JSON_SECRET.subn(lambda m: m.group(1) + b'"***"', value)
    out, n_query = _QUERY_SECRET.subn(lambda m: m.group(1) + _MASK, out)
    return out, bool(n_json or n_query)


def _header_text(value: bytes | None) -> str:
    # header values become jsonb in the outbox, which refuses NUL: keep them readable, never fatal
    return (value or b"").decode("utf-8", "replace").replace("\x00", "\ufffd")


def dead_letter(
    topic: str,
    err: UndecodableMessage,
    *,
    value: bytes | None,
    key: bytes | None,
    headers: list[tuple[str, bytes]],
    origin: tuple[str, int, int],
    context: TraceContext | None = None,
) -> OutMessage:
    """The original message as a CloudEvent in the Kafka binding's binary mode: the value and key are the
    original's, the ``ce_*`` headers the dead letter's own (type ``contact-import.dead-letter.v1``, an id
    derived from where the message was read), the original's ``ce_*`` and ``content-type`` headers kept as
    ``dlq_header_<name>`` and its other headers as they were; ``dlq_*`` headers say why and where from.
    Passwords are replaced by ``***`` (header ``dlq_redacted: password``: such a message can no longer
    authenticate when replayed). ``context``: the trace context it carries (headers ``traceparent`` and
    ``tracestate``, and ``ce_traceparent``/``ce_tracestate``, its binary-mode CloudEvents attributes)."""
    payload, redacted = redact(value or b"")
    hdrs: list[tuple[str, str]] = []
    for k, v in headers:
        if k.startswith("dlq_") or k.lower() in (trace.TRACEPARENT, trace.TRACESTATE):
            continue
        kept = k.lower().startswith("ce_") or k.lower() == "content-type"
        hdrs.append((KEPT_HEADER + k if kept else k, _header_text(v)))
    where = f"{origin[0]}/{origin[1]}/{origin[2]}"
    at = now_iso()
    hdrs += [
        ("ce_specversion", "1.0"),
        ("ce_id", str(uuid.uuid5(_DEAD_LETTER_NS, where))),
        ("ce_source", EVENT_SOURCE),
        ("ce_type", DEAD_LETTER_TYPE),
        ("ce_subject", where),
        ("ce_time", at),
        ("ce_dlqreason", err.reason),
        ("dlq_reason", err.reason),
        ("dlq_message", err.message[:500]),
        ("dlq_origin_topic", origin[0]),
        ("dlq_origin_partition", str(origin[1])),
        ("dlq_origin_offset", str(origin[2])),
        ("dlq_time", at),
    ]
    if redacted:
        hdrs.append((REDACTED_HEADER, "password"))
    if context is not None:
        hdrs += [*context.headers(), *(("ce_" + k, v) for k, v in context.headers())]
    return OutMessage(topic, key, payload, hdrs, reason=err.reason)
