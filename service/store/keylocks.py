"""Serialise the writers of one contact: transaction-scoped advisory locks on its key.

``SELECT … FOR UPDATE`` cannot lock a customer that does not exist yet, so two transactions that
bring the same new (tenant, UserData) — two replicas, or a replica and a file import — would both
find no row and both add it. Every transaction that applies contact records therefore first takes
an advisory lock on a 64-bit hash of each of its keys, all in one statement and in ascending order
(so two batches can never wait on each other in a cycle), before it reads a row; the locks are
released when it commits or rolls back.

Beside the per-key locks there is one lock on the whole store (``WHOLE``, the smallest key, so it
is always taken first). Every batch holds it shared; a batch holds it exclusively — and then needs
no per-key lock — when what it does crosses keys:

- it adds a number to a do-not-call list (that takes it off every dial list, of any customer);
- it matches a record without UserData on its phones (the match reads other customers' phones);
- it touches more keys than ``limit`` (a lock per key would strain Postgres' shared lock table,
  sized by ``max_locks_per_transaction``; one lock holds them all).

A hash collision of two keys only serialises two transactions that need not be; it never lets two
writers of one key through. A key twice in a batch is locked once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from service.model.contact import ContactRecord, MatchOn
from service.model.dnc import DncAction, DncChange

WHOLE = -(2**63)  # the whole store; no key hashes to it (see key_of)
LOCK_SQL = (
    "SELECT CASE WHEN k = $2 AND NOT $3 THEN pg_advisory_xact_lock_shared(k) ELSE pg_advisory_xact_lock(k) END"
    " FROM unnest($1::bigint[]) AS k ORDER BY k"
)  # a volatile function in the select list is evaluated after the sort: the locks are taken in key order


def key_of(tenant: str, user_data: str) -> int:
    """The lock key of a contact: BLAKE2b with an 8-byte digest of its tenant and UserData, read as a
    signed 64-bit integer — the same in every process and release (unlike Python's salted ``hash``)."""
    digest = hashlib.blake2b(f"{len(tenant)}:{tenant}:{user_data}".encode(), digest_size=8, person=b"cis.contact")
    key = int.from_bytes(digest.digest(), "big", signed=True)
    return key if key != WHOLE else WHOLE + 1


@dataclass(frozen=True, slots=True)
class Plan:
    """The locks one transaction takes: ``WHOLE`` (exclusively when ``exclusive``) and ``keys``, sorted."""

    keys: tuple[int, ...]
    exclusive: bool

    def arguments(self) -> tuple[list[int], int, bool]:
        return [WHOLE, *self.keys], WHOLE, self.exclusive


LIMIT = 2000  # CIS_CONTACT_LOCKS_MAX's default


def plan(
    records: Sequence[ContactRecord],
    changes: Iterable[DncChange] = (),
    limit: int = LIMIT,
    erased: Iterable[tuple[str, str]] = (),
) -> Plan:
    """The locks for applying ``records`` and ``changes`` and erasing the ``erased`` (tenant, UserData)
    in one transaction."""
    if any(c.action is DncAction.ADD and not c.dry_run for c in changes) or any(map(_matches_on_phone, records)):
        return Plan((), True)
    keys = sorted(
        {key_of(r.tenant, r.contact.user_data) for r in records if r.contact.user_data}.union(
            key_of(*person) for person in erased
        )
    )
    if len(keys) > limit:
        return Plan((), True)
    return Plan(tuple(keys), False)


def _matches_on_phone(rec: ContactRecord) -> bool:
    return not rec.contact.user_data and rec.policy.match.on is MatchOn.USER_DATA_OR_PHONE and not rec.policy.dry_run


async def take(
    conn: asyncpg.Connection,
    records: Sequence[ContactRecord],
    changes: Iterable[DncChange] = (),
    limit: int = LIMIT,
    erased: Iterable[tuple[str, str]] = (),
) -> Plan:
    """Take the locks for ``records``, ``changes`` and ``erased`` (inside the caller's transaction,
    before any read of their rows; a savepoint rolled back would release them, so never inside one)."""
    locks = plan(records, changes, limit, erased)
    await conn.execute(LOCK_SQL, *locks.arguments())
    return locks


async def take_whole(conn: asyncpg.Connection) -> None:
    """The whole store, exclusively (a do-not-call number added outside a batch: the ``dnc load`` CLI)."""
    await conn.execute(LOCK_SQL, *Plan((), True).arguments())
