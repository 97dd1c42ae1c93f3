"""The records an event's data turns into: a contact, a do-not-call change, an erasure, an import request,
or a rejected one; and the keys given to records the client named none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from service.errors import ErrorDetail
from service.model.contact import ContactRecord
from service.model.dnc import DncChange
from service.model.envelope import Envelope
from service.model.erase import EraseRecord
from service.model.job import ImportRequest


@dataclass(slots=True)
class Rejected:
    """A record the dialect could not turn into a :class:`ContactRecord`."""

    errors: list[ErrorDetail]
    tenant: str | None = None
    campaign: str | None = None
    user_data: str | None = None


KEY_NS = uuid.UUID("5d1f3a2e-8c4b-4e71-a6f0-2b9d7c3e1a54")


def generated_key(scope: str) -> str:
    """The key of a record the client gave none (dialler without UserData, importWS without the
    campaign's key field): derived from where the record came from (its event, or its import job, and
    its position there), so the same record replayed is the same contact and no two records share it."""
    return f"auto-{uuid.uuid5(KEY_NS, scope)}"


def record_scope(envelope: Envelope, index: int) -> str:
    """Where a record of an event came from, for :func:`generated_key`."""
    return f"event\x1f{envelope.event_source}\x1f{envelope.event_id}\x1f{index}"


AUTH_FAILED = ErrorDetail("auth.failed", "/", "authentication failed")  # the same for every way a login fails


@dataclass(frozen=True, slots=True)
class Login:
    """A credential the dialect checked for this record (importWS): the pipeline counts failures per
    user in Postgres and refuses a user locked by too many of them, even with the right password."""

    tenant: str
    login: str
    ok: bool
    stored_hash: str | None = None  # set with ``rehash``: the hash it replaces
    rehash: str | None = None  # an argon2id hash to store instead of a legacy one
    warnings: tuple[ErrorDetail, ...] = ()  # what a failed login reports besides AUTH_FAILED


@dataclass(slots=True)
class Parsed:
    """One input record: ready for the store, a file to import (a job), or rejected; warnings either way."""

    record: ContactRecord | Rejected | ImportRequest
    warnings: list[ErrorDetail] = field(default_factory=list)
    change: DncChange | None = None  # a do-not-call change (dnc.v1); ``record`` then only names it
    login: Login | None = None
    erase: EraseRecord | None = None  # a person to erase (contact.erase); ``record`` then only names it

    @classmethod
    def dnc(cls, change: DncChange) -> Parsed:
        return cls(Rejected([], change.tenant or None, None, change.phone), change=change)

    @classmethod
    def erasure(cls, erase: EraseRecord) -> Parsed:
        return cls(Rejected([], erase.tenant, None, erase.subject), erase=erase)
