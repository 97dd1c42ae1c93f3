"""One person to erase (``contact.erase``): a tenant's UserData; and the hashed form outcomes name it by."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EraseRecord:
    tenant: str
    user_data: str
    dry_run: bool = False

    @property
    def subject(self) -> str:
        return hashed(self.tenant, self.user_data)


def hashed(tenant: str, user_data: str) -> str:
    """What an outcome says instead of the UserData of an erased person: ``sha256:`` and the hex
    SHA-256 of the tenant, U+001F and the UserData (whoever knows both can recompute it; nobody can
    read it back)."""
    return "sha256:" + hashlib.sha256(f"{tenant}\x1f{user_data}".encode()).hexdigest()
