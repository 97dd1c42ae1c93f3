"""The canonical contact: what every dialect adapter produces and the store applies."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class WriteMode(StrEnum):
    """What to do with the customer's details when the key already exists."""

    INSERT_ONLY = "insert_only"  # keep the existing contact, change nothing: ALREADY_EXISTS
    UPDATE = "update"  # merge the given fields into the existing contact
    REPLACE = "replace"  # the record becomes the whole contact
    KEEP = "keep"  # keep the details, still apply membership and dial-list options (importWS dupway=skip)
    MUST_EXIST = "must_exist"  # the customer must already exist (Thulium): else FAILED


class MemberMode(StrEnum):
    """What to do when the customer is already a member of the campaign."""

    UPSERT = "upsert"
    INSERT_ONLY = "insert_only"  # an existing membership is ALREADY_EXISTS (Thulium)


class DialListMode(StrEnum):
    """How the record's phones reach the campaign's dial list."""

    MIRROR = "mirror"  # the dial list holds exactly the contact's current phones
    IGNORE_DUPLICATE = "ignore_duplicate"  # only a new customer's phones are queued
    ALL = "all"  # every import queues its phones again
    IGNORE_SUCCESS = "ignore_success"  # queued unless the membership's status is a success status


class ChangePackage(StrEnum):
    """Campaigns on the tenant's main table: a customer belongs to one of them at a time."""

    SKIP = "skip"  # a customer already on the main table is not processed, whatever its campaigns
    UNASSIGN_TO_CURRENT = "unassign_to_current"  # moved here only if it belongs to no campaign
    REASSIGN_TO_CURRENT = "reassign_to_current"  # always moved here


class Phone(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    type: str | None = None
    priority: int | None = None
    dial_at: datetime | None = None  # the instant (UTC) a local dial time names
    dial_zone: str | None = None  # the IANA zone dial_at was given in (service/model/localtime.py)
    delay_s: int | None = None
    raw: str | None = None  # the number as given, when normalisation changed it
    post_dial: str | None = None  # digits dialled once connected: from the first * or # of the number as given
    time_zones: tuple[str, ...] | None = None  # IANA zones of the number (libphonenumber), when valid
    invalid: bool | None = None  # not a dialable number (input flag or failed validation): never dialled
    path: str | None = Field(None, exclude=True)  # JSON pointer to the number in the event, for warnings

    @model_serializer(mode="wrap")
    def _without_unset_checks(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The normalisation's members appear only once set (dumps of unchecked phones stay as they were)."""
        out: dict[str, Any] = handler(self)
        for key in ("raw", "post_dial", "time_zones", "invalid"):
            if out.get(key) is None:
                out.pop(key, None)
        if out.get("dial_zone") is None:
            out.pop("dial_zone", None)
        return out


class Contact(BaseModel):
    """The person to call; keyed by (tenant, user_data). ``phones`` are the dialable numbers;
    ``fields`` the dialect's standard fields (Company, City, …); ``attributes`` custom ones."""

    model_config = ConfigDict(extra="forbid")

    user_data: str
    name: str | None = None
    email: str | None = None
    phones: list[Phone] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    # membership of the campaign the record is imported into
    status: str | None = None
    dictionary_status: str | None = None  # Thulium's dictionary_status_id
    agent: str | None = None
    priority: int | None = None
    next_call_at: datetime | None = None
    window_begin: datetime | None = None
    window_end: datetime | None = None
    # the IANA zone each local time was given in (service/model/localtime.py); the times are UTC instants
    next_call_zone: str | None = None
    window_zone: str | None = None
    recycle_at: datetime | None = None  # iSales recycleTime (also kept as given in fields)
    recycle_zone: str | None = None

    @model_serializer(mode="wrap")
    def _without_unset_times(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The zone members (and recycle_at) appear only once set: records without local times dump as before."""
        out: dict[str, Any] = handler(self)
        for key in ("next_call_zone", "window_zone", "recycle_at", "recycle_zone"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class MatchOn(StrEnum):
    USER_DATA = "user_data"
    USER_DATA_OR_PHONE = "user_data_or_phone"  # no UserData: an existing customer with one of the phones


class MatchScope(StrEnum):
    TENANT = "tenant"  # any customer of the tenant is a duplicate
    CAMPAIGN = "campaign"  # only a member of the record's campaign is


class MatchPolicy(BaseModel):
    """What counts as a duplicate (VICIdial's list/campaign/system duplicate checks with N days)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    on: MatchOn = MatchOn.USER_DATA
    scope: MatchScope = MatchScope.TENANT
    lookback_days: int | None = None  # only customers created or updated within N days are duplicates

    @property
    def is_default(self) -> bool:
        return self == MatchPolicy()


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: WriteMode = WriteMode.UPDATE
    member: MemberMode = MemberMode.UPSERT
    dial_list: DialListMode = DialListMode.MIRROR
    reset_agent: bool = False  # an existing customer's assigned agent is cleared (importWS emptyagent)
    reset_status: bool = False  # an existing customer's status is cleared (importWS resetstatus)
    change_package: ChangePackage | None = None
    success_statuses: frozenset[str] = frozenset({"success"})  # lower-case
    dry_run: bool = False
    match: MatchPolicy = MatchPolicy()  # the campaign's (catalog), filled in by the pipeline

    @model_serializer(mode="wrap")
    def _without_default_match(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if self.match.is_default:
            out.pop("match", None)
        return out


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
    for key in ("fields", "attributes", "phones"):
        if not snap.get(key, True):
            snap.pop(key)
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
        if key in ("attributes", "fields"):
            merged[key] = {**existing.get(key, {}), **value}
        else:
            merged[key] = value
    return merged
