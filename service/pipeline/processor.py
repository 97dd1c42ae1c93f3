"""One batch of Kafka messages, start to finish, in one database transaction.

decode → parse (dialect) → [fence offsets → claim event ids → apply records → outbox] → commit.
Everything before the transaction is pure, so a retried batch repeats no side effect.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import structlog

from service import failpoints, metrics
from service.catalog.model import Catalog
from service.config import Settings
from service.dialects.base import Parsed, Rejected
from service.dialects.registry import Registry
from service.errors import ErrorDetail, UndecodableMessage
from service.model.contact import ContactRecord
from service.model.job import ImportRequest
from service.pipeline import intake, outcomes
from service.pipeline.envelope import decode
from service.pipeline.validate import nul_pointer
from service.store import contacts, events, offsets, outbox
from service.store.contacts import Applied
from service.store.db import translated

log = structlog.get_logger(__name__)
NUL_BYTE = "input.nul_byte"


class Message(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` the pipeline reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class _Event:
    envelope: Any
    parsed: list[Parsed]


@dataclass(slots=True)
class BatchResult:
    messages: int = 0
    records: int = 0
    dead_letters: int = 0
    replayed: int = 0
    statuses: dict[tuple[str, str], int] = field(default_factory=dict)
    dead_reasons: list[str] = field(default_factory=list)
    failures: list[tuple[str, str, int, list[str]]] = field(default_factory=list)  # dialect, event, index, codes

    def count(self) -> None:
        """Add a committed batch to the metrics (never a rolled-back one)."""
        for (dialect, status), n in self.statuses.items():
            metrics.RECORDS.labels(dialect, status).inc(n)
        for reason in self.dead_reasons:
            metrics.DEAD_LETTERS.labels(reason).inc()
        if self.replayed:
            metrics.EVENTS_REPLAYED.inc(self.replayed)


class Processor:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self._s = settings
        self._registry = registry

    def prepare(self, messages: Sequence[Message], catalog: Catalog) -> tuple[list[_Event], list[outbox.OutMessage]]:
        """Decode and parse; pure, no I/O."""
        prepared: list[_Event] = []
        dead: list[outbox.OutMessage] = []
        for m in messages:
            try:
                env = decode(
                    value=m.value,
                    headers=m.headers,
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    timestamp_ms=m.timestamp,
                    key=m.key,
                    max_bytes=self._s.max_message_bytes,
                    resolve=self._registry.resolve,
                    accepts_text=self._registry.accepts_text,
                )
            except UndecodableMessage as err:
                dead.append(
                    outcomes.dead_letter(
                        self._s.dead_letter_topic,
                        err,
                        value=m.value,
                        key=m.key,
                        headers=list(m.headers or ()),
                        origin=(m.topic, m.partition, m.offset),
                    )
                )
                log.warning(
                    "message dead-lettered",
                    reason=err.reason,
                    detail=err.message,
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                )
                continue
            parsed = self._parse(env, catalog, may_hold_nul=_may_hold_nul(m.value))
            prepared.append(_Event(env, parsed))
        return prepared, dead

    def _parse(self, env: Any, catalog: Catalog, may_hold_nul: bool = True) -> list[Parsed]:
        parsed = self._parse_dialect(env, catalog)
        return reject_nul(env.data, parsed) if may_hold_nul else parsed

    def _parse_dialect(self, env: Any, catalog: Catalog) -> list[Parsed]:
        dialect = self._registry.get(env.dialect)
        try:
            parsed = dialect.parse(env, catalog)
        except Exception as exc:  # a dialect bug must not stop the stream: fail the event's records
            log.exception("dialect raised", dialect=env.dialect, event_id=env.event_id)
            err = ErrorDetail("internal.dialect_error", "/", f"{type(exc).__name__} while parsing")
            parsed = [Parsed(Rejected([err]))]
        if len(parsed) > self._s.max_records_per_event:
            err = ErrorDetail(
                "event.too_many_records", "/", f"at most {self._s.max_records_per_event} records per event"
            )
            parsed = [Parsed(Rejected([err]))]
        return parsed or [Parsed(Rejected([ErrorDetail("event.empty", "/", "the event holds no record")]))]

    async def commit(
        self,
        conn: asyncpg.Connection,
        prepared: list[_Event],
        dead: list[outbox.OutMessage],
        moves: dict[tuple[str, int], tuple[int | None, int]],
    ) -> BatchResult:
        """Apply a prepared batch and move the offsets, atomically.

        Should the database reject the batch's data (a value out of range, say), the transaction is
        retried with each event in its own savepoint, so only the offending event's records fail.
        """
        t0 = time.perf_counter()
        try:
            result = await self._commit(conn, prepared, dead, moves, isolate=False)
        except (asyncpg.PostgresError, asyncpg.DataError) as exc:
            if not _is_data_error(exc):
                raise
            log.warning("database rejected the batch; applying record by record", error=type(exc).__name__)
            result = await self._commit(conn, prepared, dead, moves, isolate=True)
        metrics.DB_TX_SECONDS.observe(time.perf_counter() - t0)
        result.count()
        failpoints.hit(failpoints.AFTER_DB_COMMIT)
        return result

    async def _commit(
        self,
        conn: asyncpg.Connection,
        prepared: list[_Event],
        dead: list[outbox.OutMessage],
        moves: dict[tuple[str, int], tuple[int | None, int]],
        isolate: bool,
    ) -> BatchResult:
        result = BatchResult(dead_letters=len(dead), dead_reasons=[d.reason for d in dead])
        async with translated(), conn.transaction():
            by_topic: dict[str, dict[int, tuple[int | None, int]]] = {}
            for (topic, part), move in moves.items():
                by_topic.setdefault(topic, {})[part] = move
            for topic, parts in by_topic.items():
                await offsets.advance(conn, self._s.group_id, topic, parts)

            fresh, replays = await self._claim(conn, prepared)
            applied = await (self._apply_isolated(conn, fresh) if isolate else self._apply(conn, fresh))
            processed_at = outcomes.now_iso()
            out: list[outbox.OutMessage] = []
            accepted: list[outbox.OutMessage] = []
            for e, results in zip(fresh, applied, strict=True):
                dialect = self._registry.get(e.envelope.dialect)
                it = iter(results)
                for i, p in enumerate(e.parsed):
                    p, a = settle(p, next(it) if isinstance(p.record, ContactRecord) else None)
                    job = None
                    if isinstance(p.record, ImportRequest):
                        taken = await intake.accept(conn, self._s, e.envelope, i, p.record)
                        if isinstance(taken, ErrorDetail):
                            p, _ = settle(p, taken)
                        else:
                            job, event = taken
                            accepted.append(event)
                    o = outcomes.build(dialect, e.envelope, i, p, a, processed_at, job=job)
                    tally = (e.envelope.dialect, o.status.value)
                    result.statuses[tally] = result.statuses.get(tally, 0) + 1
                    if o.errors:
                        result.failures.append((o.dialect, o.event_id, i, [err.code for err in o.errors]))
                    out.append(outcomes.to_message(o, self._s.results_topic, e.envelope))
            await outbox.add(conn, out + accepted + dead)
            result.replayed = len(replays)
            if replays:
                await outbox.replay(conn, self._s.results_topic, replays)
            result.records = len(out)
            failpoints.hit(failpoints.BEFORE_DB_COMMIT)
        return result

    async def _claim(
        self, conn: asyncpg.Connection, prepared: list[_Event]
    ) -> tuple[list[_Event], list[tuple[str, str]]]:
        """Split the batch into first-seen events and replays of events already processed."""
        keys = [(e.envelope.event_source, e.envelope.event_id) for e in prepared]
        new = await events.claim(
            conn, [(*k, e.envelope.dialect, len(e.parsed)) for k, e in zip(keys, prepared, strict=True)]
        )
        fresh: list[_Event] = []
        replays: list[tuple[str, str]] = []
        for k, e in zip(keys, prepared, strict=True):
            if k in new:
                new.discard(k)  # a second copy of the same event in this batch is a replay
                fresh.append(e)
            else:
                replays.append(k)
        return fresh, replays

    async def _apply(self, conn: asyncpg.Connection, fresh: list[_Event]) -> list[list[Applied | ErrorDetail]]:
        """All records of the batch in one pass: one read and one write per table."""
        records = [p.record for e in fresh for p in e.parsed if isinstance(p.record, ContactRecord)]
        done = iter(await contacts.apply(conn, records))
        return [[next(done) for p in e.parsed if isinstance(p.record, ContactRecord)] for e in fresh]

    async def _apply_isolated(self, conn: asyncpg.Connection, fresh: list[_Event]) -> list[list[Applied | ErrorDetail]]:
        return [
            await apply_each(
                conn, [p.record for p in e.parsed if isinstance(p.record, ContactRecord)], event_id=e.envelope.event_id
            )
            for e in fresh
        ]


async def apply_each(
    conn: asyncpg.Connection, records: list[ContactRecord], **log_context: Any
) -> list[Applied | ErrorDetail]:
    """Each record in a savepoint: a record the database rejects fails alone."""
    results: list[Applied | ErrorDetail] = []
    for record in records:
        try:
            async with conn.transaction():
                results.extend(await contacts.apply(conn, [record]))
        except (asyncpg.PostgresError, asyncpg.DataError) as exc:
            if not _is_data_error(exc):
                raise
            code = getattr(exc, "sqlstate", None) or "client"
            log.warning("record rejected by the database", sqlstate=code, **log_context)
            results.append(ErrorDetail("store.rejected", "/", f"the database rejected the record ({code})"))
    return results


async def apply_guarded(
    conn: asyncpg.Connection, records: list[ContactRecord], **log_context: Any
) -> list[Applied | ErrorDetail]:
    """All records at once in a savepoint; should the database reject the data, record by record."""
    try:
        async with conn.transaction():
            applied: list[Applied | ErrorDetail] = [*await contacts.apply(conn, records)]
        return applied
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        if not _is_data_error(exc):
            raise
        log.warning("database rejected the rows; applying record by record", error=type(exc).__name__)
        return await apply_each(conn, records, **log_context)


def settle(parsed: Parsed, applied: Applied | ErrorDetail | None) -> tuple[Parsed, Applied | None]:
    """A record the database rejected becomes a rejected record."""
    if isinstance(applied, ErrorDetail):
        return Parsed(Rejected([applied], *_names(parsed.record)), parsed.warnings), None
    return parsed, applied


def _may_hold_nul(value: bytes | None) -> bool:
    """Cheap pre-check on the raw bytes: a NUL is escaped in JSON, raw in text, ``%00`` in a query."""
    return value is not None and (b"\\u0000" in value or b"\x00" in value or b"%00" in value)


def reject_nul(data: Any, parsed: list[Parsed]) -> list[Parsed]:
    """Fail records that would carry U+0000 (PostgreSQL refuses it) at validation time, not in the store.

    A NUL anywhere in the event data fails each of its records (code ``input.nul_byte``, the pointer
    into the data); one a dialect decoded itself (``%00`` in a query string) fails just its record.
    """
    where = nul_pointer(data)
    out: list[Parsed] = []
    for p in parsed:
        rec = p.record
        at = where
        if at is None and isinstance(rec, ContactRecord) and nul_pointer(rec.model_dump(mode="json")) is not None:
            at = "/"
        if at is None:
            out.append(p)
            continue
        err = ErrorDetail(NUL_BYTE, at, "strings must not contain U+0000 (NUL)")
        errors = [*rec.errors, err] if isinstance(rec, Rejected) else [err]
        out.append(Parsed(Rejected(errors, *_names(rec)), p.warnings))
    return out


def _is_data_error(exc: Exception) -> bool:
    """Errors caused by the data (class 22 data exception, class 23 integrity, a value asyncpg
    cannot encode), not by the database being unavailable."""
    if isinstance(exc, asyncpg.DataError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in {"22", "23"}


def _names(record: ContactRecord | Rejected | ImportRequest) -> tuple[str | None, str | None, str | None]:
    if isinstance(record, ContactRecord):
        return record.tenant, record.campaign, record.contact.user_data
    if isinstance(record, ImportRequest):
        return record.tenant, record.campaign, None
    return record.tenant, record.campaign, record.user_data
