"""``contact-import dead-letters replay``: after a fix, publish dead letters to the input topic again.

Reads the dead-letter topic from the beginning (no consumer group: nothing is committed, running it
twice replays twice) and re-publishes each message's value, key and headers, minus the ``dlq_*``
headers, to the input topic: the dead letter's own ``ce_*`` headers are dropped and the original's,
kept as ``dlq_header_<name>``, restored. A dead letter published truncated (``dlq_truncated``) is
replayed with its whole body, read from the outbox by ``dlq_outbox_seq`` and checked against
``dlq_original_sha256``; once the outbox row has expired (CIS_EVENT_ID_RETENTION_HOURS) it is
skipped and counted. Messages whose passwords were stripped (header ``dlq_redacted``) are
skipped unless asked for: an importWS call with ``password=***`` can never authenticate, and a
record whose ``password`` member was masked would be stored masked.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError

from service.config import Settings
from service.kafka import clients
from service.kafka.fitting import SEQ_HEADER, SHA256_HEADER, TRUNCATED_HEADER
from service.pipeline.outcomes import DEAD_LETTER_TYPE, KEPT_HEADER, REDACTED_HEADER
from service.store import db


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    skipped_reason: int = 0
    skipped_redacted: int = 0
    skipped_expired: int = 0
    skipped_too_large: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def line(self, dry_run: bool) -> str:
        verb = "would replay" if dry_run else "replayed"
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.by_reason.items())) or "none"
        return (
            f"{verb} {self.replayed} dead letter(s) ({reasons}); skipped {self.skipped_reason} for their reason,"
            f" {self.skipped_redacted} with stripped passwords, {self.skipped_expired} truncated whose whole body"
            f" has expired, {self.skipped_too_large} larger than CIS_KAFKA_MAX_REQUEST_BYTES"
        )


def original_headers(headers: Any) -> list[tuple[str, bytes]]:
    """The headers the message had before it was dead-lettered."""
    own = any(k == "ce_type" and bytes(v or b"") == DEAD_LETTER_TYPE.encode() for k, v in headers or ())
    out: list[tuple[str, bytes]] = []
    for k, v in headers or ():
        if k.startswith(KEPT_HEADER):
            out.append((k.removeprefix(KEPT_HEADER), v or b""))
        elif not k.startswith("dlq_") and not (own and k.lower().startswith("ce_")):
            out.append((k, v or b""))
    return out


async def whole_body(conn: Any, m: Any) -> bytes | None:
    """The dead letter's value; for one published truncated, its whole body from the outbox (None: expired)."""
    if _header(m.headers, TRUNCATED_HEADER) != "true":
        return bytes(m.value or b"")
    seq, digest = _header(m.headers, SEQ_HEADER) or "", _header(m.headers, SHA256_HEADER)
    # only a dead letter's own row, and only with its digest: a message forged onto the dead-letter topic
    # cannot have another outbox row (an outcome with its contact snapshot) sent to the input topic
    sql = "SELECT payload FROM outbox WHERE seq = $1 AND topic = $2"
    body = await conn.fetchval(sql, int(seq), m.topic) if seq.isdigit() else None
    if body is None or hashlib.sha256(body).hexdigest() != digest:
        return None
    return bytes(body)


def _header(headers: Any, name: str) -> str | None:
    for k, v in headers or ():
        if k == name:
            return bytes(v or b"").decode("utf-8", "replace")
    return None


async def replay(
    settings: Settings,
    *,
    reason: str | None = None,
    limit: int = 0,
    dry_run: bool = False,
    include_redacted: bool = False,
    idle_s: float = 5.0,
) -> ReplayReport:
    """Re-publish dead letters (all, or those of one ``reason``) to the input topic; at most ``limit``."""
    report = ReplayReport()
    name = settings.dead_letter_topic
    consumer = clients.consumer(settings, group_id=None, isolation_level="read_uncommitted")
    producer = None if dry_run else clients.producer(settings, enable_idempotence=False)
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        await consumer.start()
        if producer is not None:
            await producer.start()
        await consumer.topics()
        parts = consumer.partitions_for_topic(name) or set()
        if not parts:
            return report
        consumer.assign([TopicPartition(name, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        # Where each partition ended when first fetched (the fetch high watermark: tansu's ListOffsets
        # is not exact): a message past it was dead-lettered after the replay started (maybe by it).
        ends: dict[TopicPartition, int] = {}
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                break
            for tp, msgs in batch.items():
                high = consumer.highwater(tp)
                end = ends.setdefault(tp, sys.maxsize if high is None else high)
                for m in msgs:
                    if m.offset >= end:
                        continue
                    why = _header(m.headers, "dlq_reason") or ""
                    if reason and why != reason:
                        report.skipped_reason += 1
                        continue
                    if _header(m.headers, REDACTED_HEADER) and not include_redacted:
                        report.skipped_redacted += 1
                        continue
                    if limit and report.replayed >= limit:
                        return report
                    await _one(settings, conn, producer, m, why, report)
    finally:
        if producer is not None:
            await producer.flush()
            await producer.stop()
        await consumer.stop()
        await conn.close()
    return report


async def _one(
    settings: Settings, conn: Any, producer: AIOKafkaProducer | None, m: Any, why: str, report: ReplayReport
) -> None:
    value = await whole_body(conn, m)
    if value is None:
        report.skipped_expired += 1
        return
    _describe(m, why, producer is None, len(value))
    if producer is not None:
        try:
            await producer.send(settings.input_topic, value, key=m.key, headers=original_headers(m.headers))
        except MessageSizeTooLargeError:  # the original is larger than this producer may send
            report.skipped_too_large += 1
            return
    report.replayed += 1
    report.by_reason[why] = report.by_reason.get(why, 0) + 1


def _describe(m: Any, why: str, dry_run: bool, size: int) -> None:
    line = {
        "dry_run": dry_run,
        "reason": why,
        "dlq_partition": m.partition,
        "dlq_offset": m.offset,
        "origin_topic": _header(m.headers, "dlq_origin_topic"),
        "origin_partition": _header(m.headers, "dlq_origin_partition"),
        "origin_offset": _header(m.headers, "dlq_origin_offset"),
        "bytes": size,
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
