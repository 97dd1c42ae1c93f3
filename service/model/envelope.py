"""Turn one Kafka message into an :class:`Envelope`, or say why it cannot be read.

Three ways to name the dialect: CloudEvents structured mode (the JSON value holds ``specversion``,
``type``, ``id``, ``source`` and ``data``), CloudEvents binary mode (``ce_type``, ``ce_id``,
``ce_source`` headers, the value is the data) or a plain ``dialect`` header. Any event may be a
dry run: the CloudEvents extension attribute ``dryrun`` (structured), the ``ce_dryrun`` header
(binary) or a plain ``dry_run`` header, ``true``. Its W3C trace context, when it has one: the
``traceparent``/``tracestate`` attributes (structured, the CloudEvents distributed-tracing extension)
or headers (``traceparent``, or the binary mode's ``ce_traceparent``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from service.errors import UndecodableMessage
from service.model import trace
from service.model.trace import TraceContext
from service.schemas import too_deep


class Message(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` the pipeline reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


TOO_LARGE = "too_large"
NOT_JSON = "not_json"
BAD_ENVELOPE = "bad_envelope"
UNKNOWN_DIALECT = "unknown_dialect"
TOO_DEEP = "too_deep"
MAX_DEPTH = 32  # nesting levels of the event data; orjson itself refuses more than 1024


@dataclass(slots=True)
class Envelope:
    event_id: str
    event_source: str
    dialect: str
    data: Any
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    tenant: str | None = None  # CloudEvents extension ``tenant`` (or a ``tenant`` header)
    dry_run: bool = False  # CloudEvents extension ``dryrun`` (``ce_dryrun`` or ``dry_run`` header)
    trace: TraceContext | None = None  # W3C trace context (a decode span's own, when spans are exported)


def _flag(value: object) -> bool:
    """A dry-run flag: JSON ``true`` or the text ``true``/``1``/``yes`` (any case)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True


def _headers(raw: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw or ():
        try:
            out[name.lower()] = value.decode("utf-8") if value is not None else ""
        except UnicodeDecodeError as exc:
            raise UndecodableMessage(BAD_ENVELOPE, f"header {name!r} is not UTF-8") from exc
    return out


def _body(value: bytes, accepts_text: bool) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if accepts_text:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        raise UndecodableMessage(NOT_JSON, f"value is not JSON: {exc.msg}") from exc


def decode(
    *,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] | None,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    max_bytes: int,
    resolve: Callable[[str], str | None],
    accepts_text: Callable[[str], bool],
) -> Envelope:
    """Decode a message. ``resolve`` maps a type or dialect name to a registered dialect name."""
    if value is None:
        raise UndecodableMessage(BAD_ENVELOPE, "message has no value")
    if len(value) > max_bytes:
        raise UndecodableMessage(TOO_LARGE, f"message is {len(value)} bytes, the limit is {max_bytes}")
    hdrs = _headers(headers)
    fallback_id = f"{topic}/{partition}/{offset}"

    if "ce_type" in hdrs or "dialect" in hdrs:
        named = hdrs.get("ce_type") or hdrs.get("dialect") or ""  # both present, maybe empty
        dialect = _resolve(named, resolve)
        data = _body(value, accepts_text(dialect))
        event_id = hdrs.get("ce_id") or hdrs.get("event-id") or fallback_id
        source = hdrs.get("ce_source") or hdrs.get("event-source") or topic
        tenant = hdrs.get("ce_tenant") or hdrs.get("tenant")
        dry_run = _flag(hdrs.get("ce_dryrun")) or _flag(hdrs.get("dry_run"))
        ctx = trace.from_headers(hdrs)
    else:
        doc = _body(value, False)
        if not isinstance(doc, dict):
            raise UndecodableMessage(BAD_ENVELOPE, "value is not a CloudEvents object and no dialect header")
        missing = [f for f in ("specversion", "type", "id", "source") if not isinstance(doc.get(f), str)]
        if missing:
            raise UndecodableMessage(BAD_ENVELOPE, f"CloudEvents attribute(s) missing: {', '.join(missing)}")
        if "data" not in doc:
            raise UndecodableMessage(BAD_ENVELOPE, "CloudEvents event has no data")
        dialect = _resolve(doc["type"], resolve)
        data = doc["data"]
        event_id, source = doc["id"], doc["source"]
        tenant = doc.get("tenant") if isinstance(doc.get("tenant"), str) else None
        dry_run = _flag(doc.get("dryrun")) or _flag(hdrs.get("dry_run"))
        if trace.TRACEPARENT in doc:
            ctx = trace.parse(doc[trace.TRACEPARENT], doc.get(trace.TRACESTATE))
        else:
            ctx = trace.from_headers(hdrs)

    if not event_id or len(event_id) > 256 or len(source) > 256:
        raise UndecodableMessage(BAD_ENVELOPE, "event id or source empty or longer than 256 characters")
    if "\x00" in event_id or "\x00" in source or (tenant and "\x00" in tenant):
        raise UndecodableMessage(BAD_ENVELOPE, "event id, source or tenant holds U+0000 (NUL)")
    if value.count(b"{") + value.count(b"[") > MAX_DEPTH and too_deep(data, MAX_DEPTH):
        raise UndecodableMessage(TOO_DEEP, f"the event data nests more than {MAX_DEPTH} levels")
    return Envelope(
        event_id, source, dialect, data, topic, partition, offset, timestamp_ms, key, tenant or None, dry_run, ctx
    )


def _resolve(named: str, resolve: Callable[[str], str | None]) -> str:
    dialect = resolve(named)
    if dialect is None:
        raise UndecodableMessage(UNKNOWN_DIALECT, f"no dialect is registered for {named[:100]!r}")
    return dialect
