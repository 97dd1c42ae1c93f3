"""``dialler``: import one DiallerContact into a dialler campaign (seed 002, schemas/dialler.json).

The event data is the DiallerContact itself (``overwriteDuplicates`` false) or
``{"overwriteDuplicates": bool, "contact": {...}}``; the tenant is the CloudEvents ``tenant`` attribute.
Mandatory: ``Name``, ``DiallerCampaignsID`` or ``DiallerCampaignsName``, one of ``PhoneNumber1..6``.
The key is ``UserData``; missing or empty, a key derived from the event (``generated_key``: every
such contact is a new one, and a replayed event is the same one), with a warning; for a campaign
matching ``user_data_or_phone``, the customer holding one of its normalised numbers, else its first
valid number. Overwrite true replaces a contact with the same key (REPLACE); false never writes over
a stored contact (KEEP): it joins the requested campaign as stored (ADDED), or, already in it, is
returned as stored (ALREADY_EXISTS).
Unknown fields are warnings (``dialler.unknown_field``) and kept in ``Contact.attributes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.catalog.model import Campaign, Catalog
from service.dialects import dialler_native
from service.dialects.base import matched_by_phone, parse_datetime
from service.dialects.dialler_fields import (
    ACCEPTED,
    CAMPAIGN_ID,
    CAMPAIGN_NAME,
    DATETIME_FIELDS,
    INVALID_FLAGS,
    PHONES,
    STANDARD_FIELDS,
    USER_DATA,
    WINDOW,
    known_spelling,
)
from service.errors import ErrorDetail
from service.model.contact import Contact, ContactRecord, DialListMode, MemberMode, Phone, Policy, WriteMode
from service.model.envelope import Envelope
from service.model.localtime import read_local
from service.model.outcome import Outcome
from service.model.records import Parsed, Rejected, generated_key, record_scope
from service.schemas import Schema, definition, load_validator, pointer, schema_errors

WRAPPER_KEYS = ("overwriteDuplicates", "contact")
MAX_UNKNOWN_WARNINGS = 50
MAX_CAMPAIGN_NAMES = 10_000
NO_TENANT = ErrorDetail("dialler.tenant_missing", "/", "the CloudEvents attribute 'tenant' is missing")
Ref = tuple[str, str]  # (CAMPAIGN_ID | CAMPAIGN_NAME, value)
# overwriteDuplicates: true replaces a stored contact; false never writes over it, but the contact still
# joins the requested campaign (its stored phones queued there); already a member, it is left as it is
OVERWRITE = Policy(mode=WriteMode.REPLACE)
KEEP = Policy(mode=WriteMode.KEEP, member=MemberMode.INSERT_ONLY, dial_list=DialListMode.MIRROR)


@dataclass(slots=True)
class _Request:
    """The event data unwrapped: the contact, where it sits in the data, and the overwrite flag."""

    contact: dict[str, Any]
    base: tuple[str, ...] = ()
    overwrite: bool = False
    errors: list[ErrorDetail] = field(default_factory=list)
    warnings: list[ErrorDetail] = field(default_factory=list)

    def at(self, name: str) -> str:
        return pointer([*self.base, name])


class Dialler:
    name = "dialler"
    aliases: tuple[str, ...] = ("contact-import.dialler.v1",)
    accepts_text = False
    records_at: str | None = None

    def __init__(self, schema_dir: Path) -> None:
        validator = load_validator(schema_dir, self.name)
        self._fields = definition(validator, "fields")
        self._overwrite = definition(validator, "overwrite")
        self._campaign_names: dict[tuple[str, str], str] = {}  # (tenant, campaign) -> name, for native()

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        return [self._one(envelope, catalog)]

    def native(self, outcome: Outcome) -> Any:
        name = self._campaign_names.get((outcome.tenant or "", outcome.campaign or ""))
        return dialler_native.response(outcome, name)

    def _one(self, envelope: Envelope, catalog: Catalog) -> Parsed:
        req = self._unwrap(envelope.data)
        data = req.contact
        tenant = envelope.tenant
        ref = campaign_ref(data)
        phones = dial_phones(data, req.base)
        user_data = _given(data)
        errors = list(req.errors)
        if tenant is None:
            errors.insert(0, NO_TENANT)
        errors += _shape_errors(self._fields, data, req.base)
        errors += _mandatory(req, ref, phones, {e.path for e in errors})
        errors += _datetime_errors(req, {e.path for e in errors})
        if errors or tenant is None or ref is None:
            return Parsed(Rejected(errors, tenant, ref[1] if ref else None, user_data), req.warnings + _unknown(req))
        campaign, problem = _resolve(catalog, tenant, ref, req)
        if campaign is None:
            return Parsed(Rejected([problem], tenant, ref[1], user_data), req.warnings + _unknown(req))
        self._remember(tenant, campaign)
        window, shifted = _window(req, catalog.zone(tenant, campaign.campaign))
        key = _key(data, campaign, record_scope(envelope, 0))
        record = _record(tenant, campaign, req, phones, key, window)
        return Parsed(record, req.warnings + _warnings(req, campaign, key, window) + shifted)

    def _unwrap(self, data: Any) -> _Request:
        if not isinstance(data, dict):
            message = "the event data must be a DiallerContact or {'overwriteDuplicates': ..., 'contact': {...}}"
            return _Request({}, errors=[ErrorDetail("dialler.wrong_type", "/", message)])
        if "contact" not in data:
            return _Request(data)
        flag = data.get("overwriteDuplicates", False)
        errors = _shape_errors(self._overwrite, flag, ("overwriteDuplicates",))
        contact = data["contact"]
        if not isinstance(contact, dict):
            errors.append(ErrorDetail("dialler.wrong_type", "/contact", "'contact' must be a DiallerContact object"))
            contact = {}
        warnings = [
            ErrorDetail("dialler.unknown_field", pointer([k]), f"unknown request parameter {k[:64]!r}; ignored")
            for k in data
            if k not in WRAPPER_KEYS
        ]
        overwrite = flag is True or (isinstance(flag, str) and flag.lower() == "true")
        return _Request(contact, ("contact",), overwrite, errors, warnings[:MAX_UNKNOWN_WARNINGS])

    def _remember(self, tenant: str, campaign: Campaign) -> None:
        if len(self._campaign_names) >= MAX_CAMPAIGN_NAMES:
            self._campaign_names.clear()
        self._campaign_names[(tenant, campaign.campaign)] = campaign.name


def _shape_errors(validator: Schema, instance: Any, base: tuple[str, ...]) -> list[ErrorDetail]:
    """Schema violations, coded ``dialler.<reason>`` (``wrong_type``, ``too_long``, ``bad_format``, …)."""
    return [
        ErrorDetail("dialler." + e.code.split(".", 1)[1], e.path, e.message)
        for e in schema_errors(validator, instance, base)
    ]


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def campaign_ref(data: dict[str, Any]) -> Ref | None:
    """Which campaign the contact names: its id when given (it wins), else its name."""
    cid = data.get(CAMPAIGN_ID)
    if isinstance(cid, int) and not isinstance(cid, bool):
        return CAMPAIGN_ID, str(cid)
    if isinstance(cid, str) and cid.strip():
        return CAMPAIGN_ID, cid.strip()
    cname = data.get(CAMPAIGN_NAME)
    return (CAMPAIGN_NAME, cname) if isinstance(cname, str) and cname.strip() else None


def dial_phones(data: dict[str, Any], base: tuple[str, ...] = ()) -> list[Phone]:
    """The non-empty PhoneNumber1..6, in order, typed by their field name; ``bPhoneNumberNInvalid``
    true marks the number invalid (never dialled)."""
    return [
        Phone(
            number=data[f].strip(),
            type=f,
            invalid=True if data.get(INVALID_FLAGS[f]) is True else None,
            path=pointer([*base, f]),
        )
        for f in PHONES
        if not _blank(data.get(f))
    ]


def _given(data: dict[str, Any]) -> str | None:
    """The UserData the client gave, if any."""
    value = data.get(USER_DATA)
    return None if _blank(value) else str(value)


def _key(data: dict[str, Any], campaign: Campaign, scope: str) -> str:
    """The contact's key: its UserData; without one, none when the campaign matches on the phone (the
    store finds it), else a key of its own derived from the event (never one of its phone numbers)."""
    given = _given(data)
    if given:
        return given
    return "" if matched_by_phone(campaign) else generated_key(scope)


def _mandatory(req: _Request, ref: Ref | None, phones: list[Phone], bad: set[str]) -> list[ErrorDetail]:
    out = []
    if _blank(req.contact.get("Name")):
        out.append(ErrorDetail("dialler.name_missing", req.at("Name"), "Name is mandatory"))
    if ref is None:
        message = "DiallerCampaignsID or DiallerCampaignsName is mandatory"
        out.append(ErrorDetail("dialler.campaign_missing", req.at(CAMPAIGN_ID), message))
    if not phones:
        message = "at least one of PhoneNumber1 .. PhoneNumber6 is mandatory"
        out.append(ErrorDetail("dialler.phone_missing", req.at(PHONES[0]), message))
    return [e for e in out if e.path not in bad]


def _datetime_errors(req: _Request, bad: set[str]) -> list[ErrorDetail]:
    out = []
    for name in DATETIME_FIELDS:
        value = req.contact.get(name)
        if isinstance(value, str) and value and req.at(name) not in bad:
            try:
                parse_datetime(value)
            except ValueError:
                message = f"{name} is not a valid date and time (expected e.g. 2020-01-01T00:00:00)"
                out.append(ErrorDetail("dialler.bad_datetime", req.at(name), message))
    return out


def _resolve(catalog: Catalog, tenant: str, ref: Ref, req: _Request) -> tuple[Campaign | None, ErrorDetail]:
    kind, value = ref
    if tenant not in catalog.tenants:
        return None, ErrorDetail("dialler.tenant_unknown", "/", f"unknown tenant {tenant[:64]!r}")
    found = catalog.campaign(tenant, value) if kind == CAMPAIGN_ID else catalog.campaign_by_name(tenant, value)
    message = f"no dialler campaign with {kind} {value[:100]!r} for this tenant"
    return found, ErrorDetail("dialler.campaign_unknown", req.at(kind), message)


def _window(req: _Request, zone: str) -> tuple[dict[str, Any], list[ErrorDetail]]:
    """dtBeginDate/dtEndDate (local times without an offset, in ``zone``) as the contact's window
    members, with the zone they were read in; and the warnings about times the clocks skip or repeat."""
    members: dict[str, Any] = {}
    warnings: list[ErrorDetail] = []
    for vendor, member in WINDOW.items():
        value = req.contact.get(vendor)
        if isinstance(value, str) and value.strip():
            local = read_local(parse_datetime(value, naive=True), zone, req.at(vendor))
            members[member], members["window_zone"] = local.at, local.zone
            warnings += local.warnings
    return members, warnings


def _record(
    tenant: str, campaign: Campaign, req: _Request, phones: list[Phone], key: str, window: dict[str, Any]
) -> ContactRecord:
    data = req.contact
    email = data.get("Email")
    contact = Contact(
        user_data=key,
        name=data["Name"],
        email=email if isinstance(email, str) and email else None,
        phones=phones,
        fields={f: data[f] for f in STANDARD_FIELDS if data.get(f) is not None},
        attributes={k: v for k, v in data.items() if k not in ACCEPTED},
        **window,
    )
    policy = OVERWRITE if req.overwrite else KEEP
    return ContactRecord(tenant=tenant, campaign=campaign.campaign, contact=contact, policy=policy)


def _warnings(req: _Request, campaign: Campaign, key: str, window: dict[str, Any]) -> list[ErrorDetail]:
    data = req.contact
    out = []
    if _blank(data.get(USER_DATA)) and matched_by_phone(campaign):
        message = "UserData is empty: the contact is matched by its phone numbers (the campaign's match policy)"
        out.append(ErrorDetail("dialler.user_data_from_phone", req.at(USER_DATA), message))
    elif _blank(data.get(USER_DATA)):
        message = f"UserData is empty: the contact is a new one, keyed {key} (from this event and its position)"
        out.append(ErrorDetail("dialler.user_data_generated", req.at(USER_DATA), message))
    name = data.get(CAMPAIGN_NAME)
    if CAMPAIGN_ID in data and not _blank(name) and name != campaign.name:
        message = "DiallerCampaignsName differs from the campaign's name; DiallerCampaignsID decides"
        out.append(ErrorDetail("dialler.campaign_name_mismatch", req.at(CAMPAIGN_NAME), message))
    if "window_begin" in window and "window_end" in window and window["window_end"] < window["window_begin"]:
        out.append(ErrorDetail("dialler.window_inverted", req.at("dtEndDate"), "dtEndDate is before dtBeginDate"))
    return out + _unknown(req)


def _unknown(req: _Request) -> list[ErrorDetail]:
    names = [k for k in req.contact if k not in ACCEPTED]
    out = []
    for k in names[:MAX_UNKNOWN_WARNINGS]:
        hint = known_spelling(k)
        message = f"unknown field {k[:64]!r} kept as an attribute" + (f"; did you mean {hint!r}?" if hint else "")
        out.append(ErrorDetail("dialler.unknown_field", req.at(k), message))
    if len(names) > MAX_UNKNOWN_WARNINGS:
        extra = len(names) - MAX_UNKNOWN_WARNINGS
        out.append(
            ErrorDetail("dialler.unknown_field", pointer(req.base), f"{extra} more unknown fields kept as attributes")
        )
    return out
