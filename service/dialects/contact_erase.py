"""``contact.erase``: erase people of a tenant by UserData (schemas/contact.erase.json, docs/erasure.md).

One record per UserData, in order. The records name the person by the hashed form only
(:func:`service.model.erase.hashed`), so not even a FAILED outcome repeats the UserData.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.catalog.model import Catalog
from service.errors import ErrorDetail
from service.model.envelope import Envelope
from service.model.erase import EraseRecord
from service.model.outcome import Outcome
from service.model.records import Parsed, Rejected
from service.schemas import load_validator, schema_errors

NAME = "contact.erase"
NOT_REPEATED = "does not match schemas/contact.erase.json (the value is not repeated)"


class ContactErase:
    name = NAME
    aliases: tuple[str, ...] = ("contact-import.contact.erase",)
    accepts_text = False
    records_at: str | None = None  # user_data is one string or a list

    def __init__(self, schema_dir: Path) -> None:
        self._validator = load_validator(schema_dir, self.name)

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        data = envelope.data
        if errors := schema_errors(self._validator, data):  # their messages may quote a UserData: not repeated
            named = data.get("tenant") if isinstance(data, dict) else None
            failed = [ErrorDetail(e.code, e.path, NOT_REPEATED) for e in errors]
            return [Parsed(Rejected(failed, named if isinstance(named, str) else None))]
        given = data["user_data"]
        people = [given] if isinstance(given, str) else list(dict.fromkeys(given))  # a UserData twice: once
        dry = data.get("dry_run") is True
        return [Parsed.erasure(EraseRecord(data["tenant"], user_data, dry)) for user_data in people]

    def native(self, outcome: Outcome) -> Any:
        return None
