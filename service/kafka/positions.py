"""Stored offsets the log no longer holds: below its start (records deleted by retention or
DeleteRecords before they were consumed) or beyond its end (the topic was recreated).

Neither is silent: each is logged with the topic, the partition and the offsets, and records
skipped are counted (``contact_import_offsets_skipped_total``, alert ``ContactImportOffsetsSkipped``).
"""

from __future__ import annotations

import structlog
from aiokafka import TopicPartition

from service.runtime import metrics

log = structlog.get_logger(__name__)


def below_start(tp: TopicPartition, offset: int | None, log_start: int, when: str) -> bool:
    """Whether ``offset`` is below the log start; if so, the offsets lost are logged and counted."""
    if offset is None or offset >= log_start:
        return False
    skipped = log_start - offset
    metrics.OFFSETS_SKIPPED.labels(tp.topic, str(tp.partition)).inc(skipped)
    log.error(
        "stored offset is below the log start (records deleted before they were consumed);"
        " continuing from the log start",
        topic=tp.topic,
        partition=tp.partition,
        stored_offset=offset,
        log_start=log_start,
        offsets_skipped=skipped,
        detected=when,
    )
    return True


def beyond_end(tp: TopicPartition, offset: int | None, log_end: int | None) -> None:
    log.warning(
        "stored offset is beyond the log end (topic recreated?); restarting from the beginning",
        topic=tp.topic,
        partition=tp.partition,
        stored_offset=offset,
        log_end=log_end,
    )
