"""Fit an outbox message into what the producer may send (its max request size), before it is sent.

* A dead letter above the limit goes out with its body truncated and headers saying so
  (``dlq_truncated``, ``dlq_original_size``, ``dlq_original_sha256``, ``dlq_outbox_seq``); the outbox row
  keeps the whole body for the retention window, and ``contact-import dead-letters replay`` reads it there.
* An outcome above the limit goes out reduced: without the contact snapshot, the dial list and the native
  response, with ``details.reduced: true`` and the header ``outcome_reduced: true``.
* Anything else is sent as it is; if the producer or the broker refuses it for good, the relay parks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import orjson
import structlog
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from service.pipeline.outcomes import RESULT_TYPE
from service.runtime import metrics
from service.store.outbox import Pending

log = structlog.get_logger(__name__)
TRUNCATED_HEADER = "dlq_truncated"
SHA256_HEADER = "dlq_original_sha256"
SIZE_HEADER = "dlq_original_size"
SEQ_HEADER = "dlq_outbox_seq"
REDUCED_HEADER = "outcome_reduced"
_OMITTED = ("contact", "dial_list", "native")


def wire_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """The size the producer counts against its max request size (aiokafka's own estimate)."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    return size


def _header(p: Pending, name: str) -> bytes | None:
    return next((v for k, v in p.headers if k == name), None)


def fit(p: Pending, limit: int) -> Pending:
    """``p`` as it may be sent: unchanged when it fits, else truncated (dead letter) or reduced (outcome)."""
    if wire_size(p.key, p.payload, p.headers) <= limit:
        return p
    if _header(p, "dlq_reason") is not None:
        metrics.OUTBOX_FITTED.labels(p.topic, "truncated").inc()
        return truncate(p, limit)
    if _header(p, "ce_type") == RESULT_TYPE.encode():
        reduced = reduce_outcome(p)
        if reduced is not p:
            metrics.OUTBOX_FITTED.labels(p.topic, "reduced").inc()
            log.warning("outcome too large, published without its snapshot", seq=p.seq, bytes=len(p.payload))
        return reduced
    return p


def truncate(p: Pending, limit: int) -> Pending:
    """The dead letter with as much of its body as fits and headers describing the original."""
    headers = [(k, v) for k, v in p.headers if k not in (TRUNCATED_HEADER, SHA256_HEADER, SIZE_HEADER, SEQ_HEADER)]
    headers += [
        (TRUNCATED_HEADER, b"true"),
        (SIZE_HEADER, str(len(p.payload)).encode()),
        (SHA256_HEADER, hashlib.sha256(p.payload).hexdigest().encode()),
        (SEQ_HEADER, str(p.seq).encode()),
    ]
    room = limit - wire_size(p.key, b"", headers) - 8  # the record's length varints grow with the body
    if room < 0:  # the original headers alone are too large: they stay in the outbox with the body
        headers = [(k, v) for k, v in headers if k.startswith(("dlq_", "ce_", "content-type"))]
        headers.append(("dlq_headers_dropped", b"true"))
        room = max(0, limit - wire_size(p.key, b"", headers) - 8)
    body = p.payload[:room]
    while body and wire_size(p.key, body, headers) > limit:
        body = body[: len(body) - 64]
    log.warning("dead letter too large, published truncated", seq=p.seq, bytes=len(p.payload), sent=len(body))
    return replace(p, payload=body, headers=headers)


def reduce_outcome(p: Pending) -> Pending:
    """The outcome CloudEvent without the contact snapshot, dial list and native response."""
    try:
        event: dict[str, Any] = orjson.loads(p.payload)
        data = event["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return p
    if not isinstance(data, dict):
        return p
    for name in _OMITTED:
        data.pop(name, None)
    data["details"] = {**(data.get("details") or {}), "reduced": True}
    headers = [*((k, v) for k, v in p.headers if k != REDUCED_HEADER), (REDUCED_HEADER, b"true")]
    return replace(p, payload=orjson.dumps(event), headers=headers)
