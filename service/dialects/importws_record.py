"""importWS ``source=data``: one customer from ``context`` and the duplicate options, as a ContactRecord.

``context`` is ``name=value||name=value``; each name is a field name (``phone1``) or the campaign's
display name for it (``Name``). Names the campaign does not know are kept as custom attributes, with
a warning. ``phone_field`` / ``priority_field`` / ``dialtime_field`` name the fields that feed the
dial list; the key (UserData) is the campaign's key field. Without one the customer is a new one,
keyed by where it came from (base.generated_key: the event, or the file's job and row), unless the
campaign matches on the phone (``user_data_or_phone``), which finds it by its phone_field number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from service.catalog.model import Campaign
from service.dialects.base import matched_by_phone
from service.errors import ErrorDetail
from service.model.contact import ChangePackage, Contact, ContactRecord, DialListMode, Phone, Policy, WriteMode
from service.model.localtime import LocalTime, read_local
from service.model.records import Parsed, Rejected, generated_key

PHONE_SEPARATORS = str.maketrans("", "", " -.()\t")
PRIORITY = re.compile(r"[0-9]{1,7}")
MAX_PRIORITY = 1_000_000
DIALTIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_DIALTIME = frozenset({"", "null", "0000-00-00 00:00:00"})

# Empty means the option's most cautious value: keep existing details, agent and status; queue
# only a new customer; leave a customer of another main-table campaign where it is.
DUPWAY = {"update": WriteMode.UPDATE, "skip": WriteMode.KEEP, "": WriteMode.KEEP}
YES = frozenset({"yes"})
DUPDIALLIST = {
    "ignoreduplicate": DialListMode.IGNORE_DUPLICATE,
    "all": DialListMode.ALL,
    "ignoresuccess": DialListMode.IGNORE_SUCCESS,
    "": DialListMode.IGNORE_DUPLICATE,
}
CHANGEPACKAGE = {
    "skip": ChangePackage.SKIP,
    "unassigntocurrent": ChangePackage.UNASSIGN_TO_CURRENT,
    "reassigntocurrent": ChangePackage.REASSIGN_TO_CURRENT,
    "": ChangePackage.SKIP,
}


@dataclass(slots=True)
class Values:
    """The context's values: campaign fields by field name, other names as given."""

    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    errors: list[ErrorDetail] = field(default_factory=list)
    warnings: list[ErrorDetail] = field(default_factory=list)


def build(
    tenant: str,
    campaign: Campaign,
    params: Mapping[str, str],
    warnings: list[ErrorDetail],
    scope: str,
    *,
    zone: str,
) -> Parsed:
    """The record for ``source=data``, or why there is none; ``scope``: where it came from (its event);
    ``zone``: the campaign's time zone."""
    values = context_values(campaign, params["context"])
    return from_values(tenant, campaign, values, params, warnings, scope, zone=zone)


def from_values(
    tenant: str,
    campaign: Campaign,
    values: Values,
    params: Mapping[str, str],
    warnings: list[ErrorDetail],
    scope: str,
    *,
    zone: str,
) -> Parsed:
    """The record for one customer's values (``context``, or a file row) with the request's options;
    a dial time is a local time in ``zone`` (the campaign's, else the tenant's: Catalog.zone)."""
    warnings = [*warnings, *values.warnings]
    phone, errors, more = _phone(campaign, values, params, zone)
    warnings += more
    given = (lookup(campaign, values, campaign.key_field) or "").strip()
    by_phone = not given and matched_by_phone(campaign)
    if not values.errors and not errors and by_phone and phone is None:
        message = f"no value for the key field {campaign.key_field} and no phone_field number to match the customer by"
        errors.append(_err("missing_key", "/context", message))
    if values.errors or errors:
        return Parsed(Rejected([*values.errors, *errors], tenant, campaign.campaign, given or None), warnings)
    key = given or ("" if by_phone else generated_key(scope))
    if not given and not by_phone:
        message = f"no value for the key field {campaign.key_field}: the customer is a new one, keyed {key}"
        warnings.append(_err("key_generated", "/context", message))
    fields = {f: v for f, v in values.fields.items() if f in campaign.fields}
    name = next((v for f, v in fields.items() if f.lower() == "name" and v), None)
    contact = Contact(
        user_data=key,
        name=name,
        phones=[phone] if phone else [],
        fields=fields,
        attributes=dict(values.attributes),
    )
    record = ContactRecord(tenant=tenant, campaign=campaign.campaign, contact=contact, policy=policy(campaign, params))
    return Parsed(record, warnings)


def policy(campaign: Campaign, params: Mapping[str, str]) -> Policy:
    """The duplicate options (already checked against the schema) as the store's policy."""
    dial_list = DUPDIALLIST[params["dupdiallist"].lower()]
    extra = {"success_statuses": campaign.success_statuses()} if dial_list is DialListMode.IGNORE_SUCCESS else {}
    return Policy(
        mode=DUPWAY[params["dupway"].lower()],
        dial_list=dial_list,
        reset_agent=params["emptyagent"].lower() in YES,
        reset_status=params["resetstatus"].lower() in YES,
        change_package=CHANGEPACKAGE[params["changepackage"].lower()] if campaign.uses_main_table else None,
        **extra,
    )


def context_values(campaign: Campaign, context: str) -> Values:
    """``name=value||name=value`` split (each item at its first ``=``) and resolved against the campaign."""
    out = Values()
    for position, item in enumerate(context.split("||"), start=1):
        if not item.strip():
            continue  # a trailing or doubled separator
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            message = f"item {position} of context is not field=value"
            out.errors.append(_err("bad_context", "/context", message))
            continue
        put(campaign, out, name, value)
    return out


def put(campaign: Campaign, out: Values, name: str, value: str) -> None:
    fname = field_of(campaign, name)
    if fname is not None:
        if fname in out.fields:
            out.errors.append(_err("duplicate_field", "/context", f"field {fname} is given more than once"))
        out.fields[fname] = value
        return
    if name.lower() in {a.lower() for a in out.attributes}:
        out.errors.append(_err("duplicate_field", "/context", f"field {name[:64]} is given more than once"))
    else:
        message = f"{name[:64]!r} is not a field of campaign {campaign.campaign}; kept as a custom attribute"
        out.warnings.append(_err("unknown_field", "/context", message))
    out.attributes[name] = value


def field_of(campaign: Campaign, name: str) -> str | None:
    """The campaign field a name means: a field or display name, or the key field itself."""
    found = campaign.field_name(name)
    if found is None and name.strip().lower() == campaign.key_field.lower():
        return campaign.key_field
    return found


def lookup(campaign: Campaign, values: Values, name: str) -> str | None:
    """The value given for a field named by field name, display name or (unknown fields) as given."""
    if not name.strip():
        return None
    fname = field_of(campaign, name)
    if fname is not None:
        return values.fields.get(fname)
    wanted = name.strip().lower()
    return next((v for a, v in values.attributes.items() if a.lower() == wanted), None)


def _phone(
    campaign: Campaign, values: Values, params: Mapping[str, str], zone: str
) -> tuple[Phone | None, list[ErrorDetail], list[ErrorDetail]]:
    """The dial-list entry: the phone_field's number with the priority and dial time fields."""
    spec = params["phone_field"]
    if not spec.strip():
        return None, [], []
    raw = lookup(campaign, values, spec)
    if not raw:
        message = f"no value for the phone_field {spec.strip()[:64]}: nothing is queued on the dial list"
        return None, [], [_err("no_phone", "/context", message)]
    # A number that cannot be dialled is the pipeline's to flag (service/pipeline/phones.py), not a failure
    number = raw.translate(PHONE_SEPARATORS)
    errors: list[ErrorDetail] = []
    priority = _priority(lookup(campaign, values, params["priority_field"]), params["priority_field"], errors)
    dial_at = _dial_at(lookup(campaign, values, params["dialtime_field"]), params["dialtime_field"], zone, errors)
    if errors:
        return None, errors, []
    if dial_at is None:
        return Phone(number=number, priority=priority, path="/context"), [], []
    phone = Phone(number=number, priority=priority, dial_at=dial_at.at, dial_zone=dial_at.zone, path="/context")
    return phone, [], [*dial_at.warnings]


def _priority(value: str | None, spec: str, errors: list[ErrorDetail]) -> int | None:
    if not value:
        return None
    if PRIORITY.fullmatch(value) and int(value) <= MAX_PRIORITY:
        return int(value)
    message = f"the priority_field {spec.strip()[:64]} value must be a whole number 0-{MAX_PRIORITY}"
    errors.append(_err("bad_priority", "/context", message))
    return None


def _dial_at(value: str | None, spec: str, zone: str, errors: list[ErrorDetail]) -> LocalTime | None:
    """``yyyy-mm-dd hh:mm:ss``, a local time in ``zone``; empty, NULL or the zero date mean no schedule."""
    if value is None or value.lower() in NO_DIALTIME:
        return None
    try:
        return read_local(datetime.strptime(value, DIALTIME_FORMAT), zone, "/context")
    except ValueError:
        message = f"the dialtime_field {spec.strip()[:64]} value must be a time yyyy-mm-dd hh:mm:ss"
        errors.append(_err("bad_dialtime", "/context", message))
        return None


def _err(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"importws.{code}", path, message)
