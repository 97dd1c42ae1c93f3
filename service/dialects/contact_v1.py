"""``contact.v1``: the service's own batch format (schemas/contact.v1.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.catalog.model import Catalog
from service.errors import ErrorDetail
from service.model.contact import Contact, ContactRecord, Policy
from service.model.envelope import Envelope
from service.model.outcome import Outcome
from service.model.records import Parsed, Rejected
from service.schemas import definition, load_validator, model_errors, pointer, schema_errors, without_property


class ContactV1:
    name = "contact.v1"
    aliases: tuple[str, ...] = ("contact-import.contact.v1",)
    accepts_text = False
    records_at: str | None = "contacts"

    def __init__(self, schema_dir: Path) -> None:
        self._validator = load_validator(schema_dir, self.name)
        self._contact = definition(self._validator, "contact")
        self._head = without_property(self._validator, "contacts")

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        data = envelope.data
        contacts = data.get("contacts") if isinstance(data, dict) else None
        head = {k: v for k, v in data.items() if k != "contacts"} if isinstance(data, dict) else data
        event_errors = schema_errors(self._head, head) + self._contacts_shape(contacts)
        tenant = _str(data, "tenant")
        campaign = _str(data, "campaign")
        if event_errors:
            count = len(contacts) if isinstance(contacts, list) and contacts else 1
            return [Parsed(Rejected(event_errors, tenant, campaign, _user_data(contacts, i))) for i in range(count)]
        assert isinstance(data, dict) and isinstance(contacts, list) and tenant and campaign
        policy = Policy.model_validate(data.get("policy") or {})
        return [self._one(tenant, campaign, policy, i, c) for i, c in enumerate(contacts)]

    def _contacts_shape(self, contacts: Any) -> list[ErrorDetail]:
        if not isinstance(contacts, list):
            return [ErrorDetail("schema.missing", "/contacts", "'contacts' must be a non-empty array")]
        if not contacts:
            return [ErrorDetail("schema.too_few", "/contacts", "'contacts' must hold at least one contact")]
        if len(contacts) > 10_000:
            return [ErrorDetail("schema.too_many", "/contacts", "at most 10000 contacts per event")]
        return []

    def _one(self, tenant: str, campaign: str, policy: Policy, index: int, raw: Any) -> Parsed:
        base = ("contacts", index)
        errors = schema_errors(self._contact, raw, base)
        if not errors:
            # no user_data: the campaign's match policy; each phone knows where it is in the event
            phones = [
                {**p, "path": pointer([*base, "phones", j, "number"])} for j, p in enumerate(raw.get("phones", ()))
            ]
            try:
                contact = Contact.model_validate({"user_data": "", **raw, "phones": phones})
            except ValidationError as exc:
                errors = model_errors(exc, base)
            else:
                return Parsed(ContactRecord(tenant=tenant, campaign=campaign, contact=contact, policy=policy))
        user_data = raw.get("user_data") if isinstance(raw, dict) else None
        return Parsed(Rejected(errors, tenant, campaign, user_data if isinstance(user_data, str) else None))

    def native(self, outcome: Outcome) -> Any:
        return None


def _str(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _user_data(contacts: Any, index: int) -> str | None:
    if isinstance(contacts, list) and index < len(contacts) and isinstance(contacts[index], dict):
        value = contacts[index].get("user_data")
        return value if isinstance(value, str) else None
    return None
