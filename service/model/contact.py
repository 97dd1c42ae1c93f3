"""The canonical contact: what every dialect adapter produces and the store applies."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class WriteMode(StrEnum):
    """What to do when the key already exists."""

    INSERT_ONLY = "insert_only"  # keep the existing contact: ALREADY_EXISTS
    UPDATE = "update"  # merge the given fields into the existing contact
    REPLACE = "replace"  # the record becomes the whole contact


class Phone(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    type: str | None = None
    priority: int | None = None
    dial_at: datetime | None = None
    delay_s: int | None = None


class Contact(BaseModel):
    """The person to call; keyed by (tenant, user_data)."""

    model_config = ConfigDict(extra="forbid")

    user_data: str
    name: str | None = None
    email: str | None = None
    phones: list[Phone] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    # membership of the campaign the record is imported into
    status: str | None = None
    agent: str | None = None
    priority: int | None = None
    next_call_at: datetime | None = None
    window_begin: datetime | None = None
    window_end: datetime | None = None


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: WriteMode = WriteMode.UPDATE
    dry_run: bool = False


class ContactRecord(BaseModel):
    """One record of an event, ready for the store."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    campaign: str
    contact: Contact
    policy: Policy = Policy()


def snapshot(contact: Contact) -> dict[str, Any]:
    """The JSON-ready form stored in Postgres and carried on outcomes."""
    snap = contact.model_dump(mode="json", exclude_none=True)
    if not snap.get("attributes"):
        snap.pop("attributes", None)
    return snap


def content_hash(snap: dict[str, Any]) -> str:
    """Stable hash of a snapshot: identical re-imports are UNCHANGED."""
    return hashlib.blake2b(orjson.dumps(snap, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def merge(existing: dict[str, Any], incoming: dict[str, Any], mode: WriteMode) -> dict[str, Any]:
    """The snapshot that results from writing ``incoming`` over ``existing``."""
    if mode is WriteMode.REPLACE:
        return dict(incoming)
    merged = dict(existing)
    for key, value in incoming.items():
        if key == "attributes":
            merged["attributes"] = {**existing.get("attributes", {}), **value}
        else:
            merged[key] = value
    if not merged.get("attributes"):
        merged.pop("attributes", None)
    return merged
