"""Prometheus metrics. Labels are bounded: dialect, status, reason, topic, partition — never a key."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_CONSUMED = Counter(
    "contact_import_messages_consumed_total",
    "Kafka messages taken into a committed batch.",
    registry=REGISTRY,
)
RECORDS = Counter(
    "contact_import_records_total",
    "Records processed, by dialect and outcome status.",
    ["dialect", "status"],
    registry=REGISTRY,
)
EVENTS_REPLAYED = Counter(
    "contact_import_events_replayed_total",
    "Events whose id was already processed; their original outcomes were re-emitted.",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "contact_import_dead_letters_total",
    "Messages sent to the dead-letter topic.",
    ["reason"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "contact_import_batch_messages", "Messages per batch.", buckets=_BATCH_BUCKETS, registry=REGISTRY
)
BATCH_SECONDS = Histogram(
    "contact_import_batch_duration_seconds",
    "Time to process one batch, decode to commit.",
    buckets=_LATENCY,
    registry=REGISTRY,
)
DB_TX_SECONDS = Histogram(
    "contact_import_db_transaction_duration_seconds",
    "Time of the batch's database transaction.",
    buckets=_LATENCY,
    registry=REGISTRY,
)
DB_ERRORS = Counter(
    "contact_import_db_errors_total", "Transient database failures (the batch is retried).", registry=REGISTRY
)
FENCED = Counter(
    "contact_import_fenced_batches_total",
    "Batches rolled back because another consumer owned the partition.",
    registry=REGISTRY,
)
OFFSETS_SKIPPED = Counter(
    "contact_import_offsets_skipped_total",
    "Offsets skipped because the stored offset was below the partition's log start: records deleted"
    " (retention, DeleteRecords) before they were consumed, which got no outcome.",
    ["topic", "partition"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "contact_import_consumer_lag_messages",
    "High-water mark minus the committed position, per assigned partition.",
    ["topic", "partition"],
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "contact_import_outbox_published_total",
    "Outbox messages published, by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "contact_import_outbox_pending_messages",
    "Outbox messages read in the last relay round that were not yet published.",
    registry=REGISTRY,
)
OUTBOX_PARKED = Counter(
    "contact_import_outbox_parked_total",
    "Outbox messages the broker refused for good (too large, invalid, not authorised), parked out of the"
    " publishing order, by topic and error.",
    ["topic", "error"],
    registry=REGISTRY,
)
OUTBOX_PARKED_NOW = Gauge(
    "contact_import_outbox_parked_messages",
    "Parked outbox messages waiting for `contact-import parked redrive` (read from the database).",
    registry=REGISTRY,
)
OUTBOX_FITTED = Counter(
    "contact_import_outbox_fitted_total",
    "Messages too large for the producer sent in a smaller form: dead letters truncated (the original stays"
    " in the outbox), outcomes reduced (no contact snapshot).",
    ["topic", "form"],
    registry=REGISTRY,
)
PUBLISH_ERRORS = Counter(
    "contact_import_publish_errors_total", "Relay rounds that failed and will be retried.", registry=REGISTRY
)
IMPORT_JOBS = Counter(
    "contact_import_jobs_total",
    "File-import jobs this replica ended, by final state (completed, failed); `contact-import jobs cancel`"
    " ends jobs outside the service and is not counted.",
    ["state"],
    registry=REGISTRY,
)
JOB_STATES = ("completed", "failed")  # the final states the service sets (service.model.job.JobState)
for _state in JOB_STATES:
    IMPORT_JOBS.labels(_state)  # exported at 0 from start, so that increase() sees the first job end
