"""``thulium``: Thulium's ``POST /api/batch/crm_outbounds/:id/records`` (seed 004, schemas/thulium.json).

Event data ``{"id": "00001", "records": [{"customer_id": 441, "status_id": 3}, ...]}``: existing CRM
customers of the tenant are added to the outbound campaign ``id``. The tenant is the CloudEvents
attribute ``tenant`` (or the optional ``tenant`` field). Each record becomes a membership with the
customer's phones queued; the store reports a missing customer as FAILED "Customer not found." and a
customer already in the campaign as ALREADY_EXISTS. The native response is the seed's per-customer
map entry, ``{"441": {"http_status": 201, "record_id": 111, "status": "ADDED"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service.catalog.model import Campaign, Catalog
from service.errors import ErrorDetail
from service.model.contact import Contact, ContactRecord, DialListMode, MemberMode, Policy, WriteMode
from service.model.envelope import Envelope
from service.model.localtime import UTC_ZONE, LocalTime, read_local
from service.model.outcome import Outcome, Status
from service.model.records import Parsed, Rejected
from service.schemas import definition, load_validator, pointer, schema_errors, without_property

MY_RECORD = "MY_RECORD"
CALL_NO_SOONER_THAN = "CALL_NO_SOONER_THAN"
NEEDS_DATE = frozenset({MY_RECORD, CALL_NO_SOONER_THAN})
DATE_FORMAT = "%Y-%m-%d %H:%M"
MAX_RECORDS = 10_000

# The customer must exist; an existing membership is ALREADY_EXISTS; a new membership queues the
# customer's phones (the dial list mirrors them).
POLICY = Policy(mode=WriteMode.MUST_EXIST, member=MemberMode.INSERT_ONLY, dial_list=DialListMode.MIRROR)

HTTP_CREATED = 201
HTTP_BAD_REQUEST = 400
SUPPRESSED_MESSAGE = "Added; not queued: every phone number is on a do-not-call list."


@dataclass(frozen=True, slots=True)
class _Event:
    """What every record of the event shares: where it goes, or why none of it can."""

    tenant: str | None
    campaign_id: str | None
    campaign: Campaign | None
    errors: list[ErrorDetail]
    zone: str = UTC_ZONE  # next_call_date is read in it: the campaign's, else the tenant's (catalog.zone)


class Thulium:
    name = "thulium"
    aliases: tuple[str, ...] = ("contact-import.thulium.v1",)
    accepts_text = False
    records_at: str | None = "records"

    def __init__(self, schema_dir: Path) -> None:
        self._validator = load_validator(schema_dir, self.name)
        self._record = definition(self._validator, "record")
        self._head = without_property(self._validator, "records")

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        data = envelope.data
        records = data.get("records") if isinstance(data, dict) else None
        event = self._event(envelope, data, records, catalog)
        if not isinstance(records, list) or not records:
            return [Parsed(Rejected(event.errors, event.tenant, event.campaign_id))]
        return [self._one(event, i, raw) for i, raw in enumerate(records)]

    def native(self, outcome: Outcome) -> Any:
        """The seed's response entry for this customer; merging an event's entries gives the seed's map."""
        key = outcome.user_data if outcome.user_data is not None else f"records/{outcome.record_index}"
        if outcome.status is Status.FAILED:
            message = outcome.errors[0].message if outcome.errors else "Adding the record failed."
            return {key: {"http_status": HTTP_BAD_REQUEST, "status": Status.FAILED.value, "message": message}}
        added = _added(outcome)
        entry: dict[str, Any] = {"http_status": HTTP_CREATED if added else HTTP_BAD_REQUEST}
        if outcome.record_id is not None:
            entry["record_id"] = outcome.record_id
        entry["status"] = (Status.ADDED if added else Status.ALREADY_EXISTS).value
        if outcome.status is Status.SUPPRESSED and added:
            entry["message"] = SUPPRESSED_MESSAGE
        return {key: entry}

    # -- the event ---------------------------------------------------------------------------------

    def _event(self, envelope: Envelope, data: Any, records: Any, catalog: Catalog) -> _Event:
        head = {k: v for k, v in data.items() if k != "records"} if isinstance(data, dict) else data
        errors = [_coded(e) for e in schema_errors(self._head, head)]
        errors += _records_shape(records)
        campaign_id = _str(data, "id") if not any(e.path == "/id" for e in errors) else None
        tenant, tenant_errors = _tenant(envelope.tenant, data)
        errors += tenant_errors
        if errors or tenant is None or campaign_id is None:
            return _Event(tenant, campaign_id, None, errors)
        if tenant not in catalog.tenants:
            return _Event(tenant, campaign_id, None, [_err("tenant_unknown", "/", f"Tenant {tenant!r} not found.")])
        campaign = catalog.campaign(tenant, campaign_id)
        if campaign is None:
            return _Event(tenant, campaign_id, None, [_err("campaign_not_found", "/id", "Campaign not found.")])
        return _Event(tenant, campaign_id, campaign, [], catalog.zone(tenant, campaign_id))

    # -- one record --------------------------------------------------------------------------------

    def _one(self, event: _Event, index: int, raw: Any) -> Parsed:
        base = ("records", index)
        errors = [_coded(e) for e in schema_errors(self._record, raw, base)]
        key = _customer_key(raw, errors, pointer((*base, "customer_id")))
        if event.errors or errors or event.campaign is None or key is None:
            return Parsed(Rejected([*event.errors, *errors], event.tenant, event.campaign_id, key))
        assert isinstance(raw, dict) and event.tenant is not None
        next_call, date_errors = _next_call(raw.get("next_call_date"), base, event.zone)
        errors = date_errors + _status_errors(event.campaign, raw, base)
        if errors:
            return Parsed(Rejected(errors, event.tenant, event.campaign.campaign, key))
        contact = Contact(
            user_data=key,
            status=_id_str(raw.get("status_id")),
            agent=raw.get("agent_login"),
            priority=_int(raw.get("order")),
            next_call_at=next_call.at if next_call else None,
            next_call_zone=next_call.zone if next_call else None,
            dictionary_status=_id_str(raw.get("dictionary_status_id")),
        )
        return Parsed(
            ContactRecord(tenant=event.tenant, campaign=event.campaign.campaign, contact=contact, policy=POLICY),
            list(next_call.warnings) if next_call else [],
        )


def _added(outcome: Outcome) -> bool:
    """Whether the record joined the campaign: ADDED, or added with every number suppressed (do-not-call)."""
    if outcome.status is Status.SUPPRESSED:
        return outcome.details.get("contact_status") == Status.ADDED.value
    return outcome.status is Status.ADDED


def _status_errors(campaign: Campaign, raw: dict[str, Any], base: tuple[Any, ...]) -> list[ErrorDetail]:
    """The campaign's status definitions: a known status, and what its system status requires."""
    status_id = _id_str(raw.get("status_id"))
    if status_id is None:
        return []
    status = campaign.statuses.get(status_id)
    if status is None:
        return [_err("status_unknown", pointer((*base, "status_id")), f"Status {status_id} not found.")]
    system = (status.system_status or "").upper()
    errors: list[ErrorDetail] = []
    if system == MY_RECORD and raw.get("agent_login") is None:
        errors.append(
            _err("agent_required", pointer((*base, "agent_login")), "agent_login is required for status MY_RECORD.")
        )
    if system in NEEDS_DATE and raw.get("next_call_date") is None:
        message = f"next_call_date (YYYY-MM-DD hh:mm) is required for status {system}."
        errors.append(_err("next_call_date_required", pointer((*base, "next_call_date")), message))
    return errors


def _next_call(value: Any, base: tuple[Any, ...], zone: str) -> tuple[LocalTime | None, list[ErrorDetail]]:
    """``YYYY-MM-DD hh:mm`` (the schema checked the shape), a local time in ``zone``; an impossible date fails."""
    if value is None:
        return None, []
    path = pointer((*base, "next_call_date"))
    try:
        wall = datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        return None, [_bad_date(path)]
    return read_local(wall, zone, path), []


def _tenant(attribute: str | None, data: Any) -> tuple[str | None, list[ErrorDetail]]:
    """The CloudEvents ``tenant`` attribute, or the data's ``tenant`` field; both set, they must agree."""
    field = _str(data, "tenant")
    if attribute and field and attribute != field:
        message = "The CloudEvents attribute 'tenant' and the field 'tenant' differ."
        return attribute, [_err("tenant_mismatch", "/tenant", message)]
    tenant = attribute or field
    if not tenant:
        message = "No tenant: set the CloudEvents attribute 'tenant' (the Thulium system name)."
        return None, [_err("tenant_missing", "/", message)]
    return tenant, []


def _records_shape(records: Any) -> list[ErrorDetail]:
    if not isinstance(records, list):
        return [_err("missing", "/records", "'records' must be a non-empty array")]
    if not records:
        return [_err("too_few", "/records", "'records' must hold at least one record")]
    if len(records) > MAX_RECORDS:
        return [_err("too_many", "/records", f"at most {MAX_RECORDS} records per event")]
    return []


def _customer_key(raw: Any, errors: list[ErrorDetail], path: str) -> str | None:
    """The contact key, ``str(customer_id)``, when the customer id itself is valid."""
    if not isinstance(raw, dict) or "customer_id" not in raw or any(e.path == path for e in errors):
        return None
    return _id_str(raw["customer_id"])


def _id_str(value: Any) -> str | None:
    """An id as text: integers (also a JSON ``441.0``) without a fraction, strings as given."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    return str(value) if isinstance(value, int | str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _err(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"thulium.{code}", path, message)


def _bad_date(path: str) -> ErrorDetail:
    return _err("bad_date", path, "next_call_date must be a date in the format YYYY-MM-DD hh:mm.")


def _coded(detail: ErrorDetail) -> ErrorDetail:
    """A schema error under the dialect's prefix; a malformed next_call_date is ``thulium.bad_date``."""
    if detail.path.endswith("/next_call_date") and detail.code == "schema.bad_format":
        return _bad_date(detail.path)
    return _err(detail.code.removeprefix("schema."), detail.path, detail.message)
