"""``contact-import dead-letters replay``: after a fix, publish dead letters to the input topic again.

Reads the dead-letter topic from the beginning (no consumer group: nothing is committed, running it
twice replays twice) and re-publishes each message's value, key and headers, minus the ``dlq_*``
headers, to the input topic. Messages whose passwords were stripped (header ``dlq_redacted``) are
skipped unless asked for: an importWS call with ``password=***`` can never authenticate, and a
record whose ``password`` member was masked would be stored masked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import TopicPartition

from service.config import Settings
from service.kafka import clients
from service.pipeline.outcomes import REDACTED_HEADER


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    skipped_reason: int = 0
    skipped_redacted: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def line(self, dry_run: bool) -> str:
        verb = "would replay" if dry_run else "replayed"
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.by_reason.items())) or "none"
        return (
            f"{verb} {self.replayed} dead letter(s) ({reasons}); skipped {self.skipped_reason} for their reason,"
            f" {self.skipped_redacted} with stripped passwords"
        )


def original_headers(headers: Any) -> list[tuple[str, bytes]]:
    """The headers the message had before it was dead-lettered."""
    return [(k, v or b"") for k, v in headers or () if not k.startswith("dlq_")]


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
    await consumer.start()
    try:
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
                    _describe(m, why, dry_run)
                    if producer is not None:
                        await producer.send(
                            settings.input_topic, m.value, key=m.key, headers=original_headers(m.headers)
                        )
                    report.replayed += 1
                    report.by_reason[why] = report.by_reason.get(why, 0) + 1
    finally:
        if producer is not None:
            await producer.flush()
            await producer.stop()
        await consumer.stop()
    return report


def _describe(m: Any, why: str, dry_run: bool) -> None:
    line = {
        "dry_run": dry_run,
        "reason": why,
        "dlq_partition": m.partition,
        "dlq_offset": m.offset,
        "origin_topic": _header(m.headers, "dlq_origin_topic"),
        "origin_partition": _header(m.headers, "dlq_origin_partition"),
        "origin_offset": _header(m.headers, "dlq_origin_offset"),
        "bytes": len(m.value or b""),
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
