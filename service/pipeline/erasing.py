"""``contact.erase`` in a batch: tombstones read as erase requests, erasures applied in the batch's
order, and the batch's own earlier messages about an erased person scrubbed (docs/erasure.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import asyncpg
import structlog

from service.config import Settings
from service.dialects.contact_erase import NAME
from service.model.envelope import Envelope, Message
from service.model.erase import EraseRecord
from service.model.records import Parsed
from service.store import erasure, scrub
from service.store.erasure import Erased
from service.store.outbox import OutMessage

log = structlog.get_logger(__name__)
TOMBSTONE_SOURCE = "kafka-tombstone"


class Event(Protocol):
    envelope: Envelope
    parsed: list[Parsed]


E = TypeVar("E", bound=Event)
R = TypeVar("R")


def tombstone(settings: Settings, m: Message) -> Envelope | None:
    """A message with a key and no value, on a service whose tombstones erase
    (``CIS_ERASE_TOMBSTONE_TENANT``): an erase request of that tenant for the UserData in the key,
    identified by where it was read. Otherwise (also for a key that is not UTF-8 or holds U+0000)
    ``None``: a message without value is dead-lettered."""
    tenant = settings.erase_tombstone_tenant
    if m.value is not None or not m.key or not tenant:
        return None
    try:
        user_data = m.key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in user_data:  # Postgres refuses it in text: such a key names nobody, the message is dead-lettered
        return None
    where = f"{m.topic}/{m.partition}/{m.offset}"
    data = {"tenant": tenant, "user_data": user_data}
    return Envelope(where, TOMBSTONE_SOURCE, NAME, data, m.topic, m.partition, m.offset, m.timestamp, m.key)


def people(events: Sequence[Event]) -> list[tuple[str, str]]:
    """The (tenant, UserData) of every person the batch erases: their contacts' key locks."""
    return [(p.erase.tenant, p.erase.user_data) for e in events for p in e.parsed if p.erase is not None]


def _erases(e: Event) -> bool:
    return any(p.erase is not None for p in e.parsed)


async def in_order(
    conn: asyncpg.Connection, events: Sequence[E], apply: Callable[[list[E]], Awaitable[list[list[R]]]]
) -> list[list[R | Erased]]:
    """The results of every event, in order: the runs of events between erase requests applied by
    ``apply`` (all at once), each erase request on its own — so a person imported before their
    erasure in the batch is erased, and one imported after it is a fresh contact."""
    out: list[list[R | Erased]] = []
    run: list[E] = []
    for e in events:
        if not _erases(e):
            run.append(e)
            continue
        if run:
            out.extend([*results] for results in await apply(run))
            run = []
        wanted = [p.erase for p in e.parsed if p.erase is not None]
        out.append([*await erasure.erase(conn, wanted, dry_run=e.envelope.dry_run)])
        if not e.envelope.dry_run:
            log.info("contacts erased", event_id=e.envelope.event_id, people=len(wanted))
    if run:
        out.extend([*results] for results in await apply(run))
    return out


def forget(earlier: Sequence[OutMessage], person: EraseRecord, done: Erased) -> None:
    """The batch's messages before the erasure (not yet in the outbox) scrubbed of ``person``, in place."""
    if done.dry_run:
        return
    who = {(person.tenant, person.user_data)}
    for m in earlier:
        headers = dict(m.headers)
        if headers.get("ce_type") == scrub.OUTCOME_TYPE:
            found = scrub.reduced_outcome(m.payload, who)
            if found is not None:
                m.payload, m.key = found[0], found[1]
        elif headers.get("ce_type") == scrub.DEAD_LETTER_TYPE and scrub.mentions(person, m.payload, m.key, m.headers):
            m.payload, m.key, m.headers = scrub.PLACEHOLDER, None, scrub.placeholder_headers(m.headers)
