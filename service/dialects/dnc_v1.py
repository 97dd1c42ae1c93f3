"""``dnc.v1``: numbers added to or removed from a do-not-call list (schemas/dnc.v1.json).

One record per number: the ``add`` entries first, then the ``remove`` ones, in order. Numbers are
normalised to E.164 (the event's ``region`` for national forms); an invalid one FAILS alone
(``phone.invalid``). No ``tenant``: a global list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.catalog.model import Catalog
from service.dialects.base import parse_datetime
from service.errors import ErrorDetail
from service.model.dnc import GLOBAL, DncAction, DncChange
from service.model.envelope import Envelope
from service.model.outcome import Outcome
from service.model.phones import normalise, region_code
from service.model.records import Parsed, Rejected
from service.schemas import load_validator, pointer, schema_errors


class DncV1:
    name = "dnc.v1"
    aliases: tuple[str, ...] = ("contact-import.dnc.v1",)
    accepts_text = False
    records_at: str | None = None  # records come from both the add and the remove lists

    def __init__(self, schema_dir: Path) -> None:
        self._validator = load_validator(schema_dir, self.name)

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        data = envelope.data
        errors = schema_errors(self._validator, data)
        tenant = data.get("tenant") if isinstance(data, dict) and isinstance(data.get("tenant"), str) else None
        if errors:
            return [Parsed(Rejected(errors, tenant))]
        region = region_code(data.get("region"))
        items: list[tuple[str, DncAction, Any, tuple[Any, ...]]] = [
            (e["number"], DncAction.ADD, e.get("expires_at"), ("add", i, "number"))
            for i, e in enumerate(data.get("add", []))
        ]
        items += [(n, DncAction.REMOVE, None, ("remove", i)) for i, n in enumerate(data.get("remove", []))]
        return [self._one(tenant or GLOBAL, data["list"], region, *item) for item in items]

    def _one(
        self,
        tenant: str,
        name: str,
        region: str | None,
        number: str,
        action: DncAction,
        expires: Any,
        at: tuple[Any, ...],
    ) -> Parsed:
        n = normalise(number, region)
        if not n.valid or n.e164 is None:
            error = ErrorDetail(
                "phone.invalid",
                pointer(at),
                "not a valid phone number" + ("" if region else " (no region: give it as +…)"),
            )
            return Parsed(Rejected([error], tenant or None))
        expires_at = parse_datetime(expires) if isinstance(expires, str) else None
        return Parsed.dnc(DncChange(tenant=tenant, list=name, phone=n.e164, action=action, expires_at=expires_at))

    def native(self, outcome: Outcome) -> Any:
        return None
