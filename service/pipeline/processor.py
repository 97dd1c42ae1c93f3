"""One batch of Kafka messages, start to finish, in one database transaction.

decode → parse (dialect) → [fence offsets → claim event ids → apply records → outbox] → commit.
Everything before the transaction is pure, so a retried batch repeats no side effect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import structlog

from service.catalog.model import Catalog
from service.config import Settings
from service.dialects.registry import Registry
from service.errors import ErrorDetail, UndecodableMessage
from service.model import trace
from service.model.contact import ContactRecord
from service.model.envelope import Envelope, Message, decode
from service.model.job import ImportRequest
from service.model.records import Parsed, Rejected
from service.pipeline import access, erasing, intake, outcomes, tracing
from service.pipeline.nul import may_hold_nul, reject_nul
from service.pipeline.phones import normalise_all
from service.runtime import failpoints, metrics
from service.store import contacts, dnc, events, keylocks, offsets, outbox
from service.store.contacts import Applied
from service.store.db import translated
from service.store.dnc import DncApplied
from service.store.erasure import Erased

log = structlog.get_logger(__name__)
ID_CONFLICT = ErrorDetail(
    "event.id_conflict",
    "/",
    "this event id (CloudEvents source and id) was already used for another tenant; nothing was applied",
)


@dataclass(slots=True)
class _Event:
    envelope: Envelope
    parsed: list[Parsed]
    claimed: bool = True  # remembered by its id (unclaimed: denied or an id conflict, nothing applied)


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
        traced = tracing.ENABLED
        for m in messages:
            t0 = time.time_ns() if traced else 0
            try:
                env = erasing.tombstone(self._s, m) or decode(
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
                received = trace.from_raw(m.headers)
                dead.append(
                    outcomes.dead_letter(
                        self._s.dead_letter_topic,
                        err,
                        value=m.value,
                        key=m.key,
                        headers=list(m.headers or ()),
                        origin=(m.topic, m.partition, m.offset),
                        context=self._traced(received, t0, m, err.reason) if traced else received,
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
            if traced:
                env.trace = self._traced(env.trace, t0, m)
            parsed = self._parse(env, catalog, may_hold_nul=may_hold_nul(m.value))
            prepared.append(_Event(env, parsed))
        return prepared, dead

    @staticmethod
    def _traced(
        received: trace.TraceContext | None, t0: int, m: Message, error: str | None = None
    ) -> trace.TraceContext:
        return tracing.decoded(received, t0, (m.topic, m.partition, m.offset), error)

    def _parse(self, env: Envelope, catalog: Catalog, may_hold_nul: bool = True) -> list[Parsed]:
        parsed = self._parse_dialect(env, catalog)
        parsed = access.enforce_tenants(self._s, env.topic, env.tenant, parsed, catalog)
        if may_hold_nul:
            parsed = reject_nul(env.data, parsed, self._registry.get(env.dialect).records_at)
        return _dry_run(env, refine(self._s, parsed, catalog))

    def _parse_dialect(self, env: Envelope, catalog: Catalog) -> list[Parsed]:
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
        await _precheck_imports(self._s, prepared)
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
        traces = (e.envelope.trace for e in prepared)
        async with translated(), tracing.transaction(traces), conn.transaction():
            by_topic: dict[str, dict[int, tuple[int | None, int]]] = {}
            for (topic, part), move in moves.items():
                by_topic.setdefault(topic, {})[part] = move
            for topic, parts in by_topic.items():
                await offsets.advance(conn, self._s.group_id, topic, parts)

            checked = await access.throttle(conn, self._s, [e.parsed for e in prepared])
            prepared = [_Event(e.envelope, parsed) for e, parsed in zip(prepared, checked, strict=True)]
            fresh, replays = await self._claim(conn, prepared)
            await self._lock(conn, fresh)
            apply = self._apply_isolated if isolate else self._apply
            applied = await erasing.in_order(conn, fresh, lambda run: apply(conn, run))
            processed_at = outcomes.now_iso()
            out: list[outbox.OutMessage] = []
            accepted: list[outbox.OutMessage] = []
            for e, results in zip(fresh, applied, strict=True):
                dialect = self._registry.get(e.envelope.dialect)
                it = iter(results)
                for i, p in enumerate(e.parsed):
                    p, a = settle(p, next(it) if _stored(p) else None)
                    job = None
                    if isinstance(request := p.record, ImportRequest):
                        if e.envelope.dry_run:
                            p = access.reject(p, DRY_RUN_IMPORT)
                        else:
                            taken = await intake.accept(conn, self._s, e.envelope, i, request)
                            if isinstance(taken, ErrorDetail):
                                p = access.reject(p, taken)
                            else:
                                job, event = taken
                                accepted.append(event)
                    o = outcomes.build(dialect, e.envelope, i, p, a, processed_at, unclaimed=not e.claimed, job=job)
                    if p.erase is not None and isinstance(a, Erased):
                        erasing.forget([*out, *dead], p.erase, a)
                    tally = (e.envelope.dialect, o.status.value)
                    result.statuses[tally] = result.statuses.get(tally, 0) + 1
                    if o.errors:
                        result.failures.append((o.dialect, o.event_id, i, [err.code for err in o.errors]))
                    out.append(outcomes.to_message(o, self._s.results_topic, e.envelope, replayable=e.claimed))
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
        """Split the batch into events to process, in order, and replays of events already processed.

        An event denied by its access checks, or naming no tenant, applies nothing and claims no id:
        it can neither take an id a tenant's event will use nor be answered with that tenant's
        outcomes. An id already claimed for another tenant is an id conflict. A dry run is never
        remembered: the real event may follow with the same id.
        """
        tenants = {id(e): access.event_tenant(e.parsed, e.envelope.tenant) for e in prepared}
        denied = {id(e) for e in prepared if access.denied(e.parsed)}
        claimable = [
            e for e in prepared if tenants[id(e)] is not None and id(e) not in denied and not e.envelope.dry_run
        ]
        keys = [(e.envelope.event_source, e.envelope.event_id) for e in claimable]
        new = await events.claim(
            conn,
            [(*k, e.envelope.dialect, len(e.parsed), tenants[id(e)]) for k, e in zip(keys, claimable, strict=True)],
        )
        owners = await events.tenants(conn, [k for k in keys if k not in new])
        claimed_now: dict[tuple[str, str], str | None] = {}
        out: list[_Event] = []
        replays: list[tuple[str, str]] = []
        for e in prepared:
            k = (e.envelope.event_source, e.envelope.event_id)
            tenant = tenants[id(e)]
            if id(e) in denied:
                out.append(_Event(e.envelope, access.deny_all(e.parsed), claimed=False))
            elif tenant is None:
                out.append(_Event(e.envelope, e.parsed, claimed=False))  # every record failed already
            elif e.envelope.dry_run:
                out.append(e)
            elif k in new:
                new.discard(k)  # a second copy of the same event in this batch is a replay
                claimed_now[k] = tenant
                out.append(e)
            elif (owner := claimed_now.get(k, owners.get(k))) is not None and owner != tenant:
                out.append(_Event(e.envelope, [access.reject(p, ID_CONFLICT) for p in e.parsed], claimed=False))
            else:
                replays.append(k)  # the same tenant's event again (or one claimed before tenants were kept)
        return out, replays

    async def _lock(self, conn: asyncpg.Connection, fresh: list[_Event]) -> None:
        """Serialise the batch with every other transaction on its contacts (other replicas, file
        imports): all its locks at once, before any of its rows is read, and outside the savepoints
        of the record-by-record retry (rolling one back would release them)."""
        records = [p.record for e in fresh for p in e.parsed if isinstance(p.record, ContactRecord)]
        changes = [p.change for e in fresh for p in e.parsed if p.change is not None]
        erased = erasing.people(fresh)
        if records or changes or erased:
            await keylocks.take(conn, records, changes, self._s.contact_locks_max, erased)

    async def _apply(self, conn: asyncpg.Connection, fresh: list[_Event]) -> list[list[Result]]:
        """All records of the batch in one pass: one read and one write per table. The batch's
        do-not-call changes are applied first, so its contacts already see them."""
        changes = [p.change for e in fresh for p in e.parsed if p.change is not None]
        records = [p.record for e in fresh for p in e.parsed if isinstance(p.record, ContactRecord)]
        done_dnc = iter(await dnc.apply(conn, changes))
        done = iter(await contacts.apply(conn, records))
        return [[next(done_dnc) if p.change is not None else next(done) for p in e.parsed if _stored(p)] for e in fresh]

    async def _apply_isolated(self, conn: asyncpg.Connection, fresh: list[_Event]) -> list[list[Result]]:
        """Each record in a savepoint: a record the database rejects fails alone."""
        out: list[list[Result]] = []
        for e in fresh:
            results: list[Result] = []
            for p in e.parsed:
                if p.change is not None:
                    results += await _guarded(conn, dnc.apply(conn, [p.change]), event_id=e.envelope.event_id)
                elif isinstance(p.record, ContactRecord):
                    results += await _guarded(conn, contacts.apply(conn, [p.record]), event_id=e.envelope.event_id)
            out.append(results)
        return out


async def _precheck_imports(settings: Settings, prepared: list[_Event]) -> None:
    """File-import requests whose URL can already be told to be refused fail now, not as a job."""
    requests = [
        (e, i, p.record) for e in prepared for i, p in enumerate(e.parsed) if isinstance(p.record, ImportRequest)
    ]
    if not requests:
        return
    refused = await asyncio.gather(*(intake.precheck(settings, req) for _, _, req in requests))
    for (e, i, _), error in zip(requests, refused, strict=True):
        if error is not None:
            e.parsed[i] = access.reject(e.parsed[i], error)


Result = Applied | DncApplied | Erased | ErrorDetail
DRY_RUN_IMPORT = ErrorDetail("import.dry_run", "/", "a dry run checks the request but schedules no import job")


def refine(settings: Settings, parsed: list[Parsed], catalog: Catalog) -> list[Parsed]:
    """What every record goes through after its dialect, from an event or a file row: its campaign's
    match policy, and phone normalisation."""
    parsed = _with_campaign_policy(parsed, catalog)
    if settings.phone_validation == "strict":
        parsed = normalise_all(parsed, catalog, settings.default_phone_region)
    return parsed


async def _guarded(conn: asyncpg.Connection, work: Awaitable[Sequence[Result]], **log_context: Any) -> list[Result]:
    """``work`` in a savepoint; should the database reject its data, one ``store.rejected`` error."""
    try:
        async with conn.transaction():
            return [*await work]
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        if not _is_data_error(exc):
            raise
        code = getattr(exc, "sqlstate", None) or "client"
        log.warning("record rejected by the database", sqlstate=code, **log_context)
        return [ErrorDetail("store.rejected", "/", f"the database rejected the record ({code})")]


async def apply_guarded(conn: asyncpg.Connection, records: list[ContactRecord], **log_context: Any) -> list[Result]:
    """All records at once in a savepoint; should the database reject the data, record by record."""
    try:
        async with conn.transaction():
            return [*await contacts.apply(conn, records)]
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        if not _is_data_error(exc):
            raise
        log.warning("database rejected the rows; applying record by record", error=type(exc).__name__)
    return [r for record in records for r in await _guarded(conn, contacts.apply(conn, [record]), **log_context)]


def settle(parsed: Parsed, applied: Result | None) -> tuple[Parsed, Applied | DncApplied | Erased | None]:
    """A record the database rejected becomes a rejected record."""
    if isinstance(applied, ErrorDetail):
        return access.reject(parsed, applied), None
    return parsed, applied


def _stored(p: Parsed) -> bool:
    """Whether the record goes to the store (and so has a result there)."""
    return p.change is not None or p.erase is not None or isinstance(p.record, ContactRecord)


def _with_campaign_policy(parsed: list[Parsed], catalog: Catalog) -> list[Parsed]:
    """Each contact record carries its campaign's match policy (the catalog's; the default when the
    campaign is not in the catalog)."""
    out = []
    for p in parsed:
        rec = p.record
        campaign = catalog.campaign(rec.tenant, rec.campaign) if isinstance(rec, ContactRecord) else None
        if isinstance(rec, ContactRecord) and campaign is not None and not campaign.match.is_default:
            rec = rec.model_copy(update={"policy": rec.policy.model_copy(update={"match": campaign.match})})
            p = replace(p, record=rec)
        out.append(p)
    return out


def _dry_run(env: Envelope, parsed: list[Parsed]) -> list[Parsed]:
    """A dry-run event marks every record dry; an event whose records all ask for a dry run (the
    contact.v1 policy) is a dry-run event."""
    if not env.dry_run:
        stored = [p for p in parsed if _stored(p)]
        env.dry_run = bool(stored) and all(_is_dry(p) for p in stored)
        return parsed
    out = []
    for p in parsed:
        rec, change = p.record, p.change
        if change is not None:
            change = change.model_copy(update={"dry_run": True})
        elif isinstance(rec, ContactRecord) and not rec.policy.dry_run:
            rec = rec.model_copy(update={"policy": rec.policy.model_copy(update={"dry_run": True})})
        out.append(replace(p, record=rec, change=change))
    return out


def _is_dry(p: Parsed) -> bool:
    if p.erase is not None:
        return p.erase.dry_run
    if p.change is not None:
        return p.change.dry_run
    return isinstance(p.record, ContactRecord) and p.record.policy.dry_run


def _is_data_error(exc: Exception) -> bool:
    """Errors caused by the data (class 22 data exception, class 23 integrity, a value asyncpg
    cannot encode), not by the database being unavailable."""
    if isinstance(exc, asyncpg.DataError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in {"22", "23"}
