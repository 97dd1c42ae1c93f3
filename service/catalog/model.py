"""The catalog as the dialect adapters see it: an in-memory snapshot of the configuration."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from service.catalog import passwords
from service.model.contact import MatchPolicy


@dataclass(frozen=True, slots=True)
class StatusDef:
    status_id: str
    name: str
    system_status: str | None


@dataclass(frozen=True, slots=True)
class Campaign:
    tenant: str
    campaign: str
    name: str
    key_field: str = "UserData"
    fields: dict[str, str] = field(default_factory=dict)  # field name -> display name
    uses_main_table: bool = False
    default_region: str | None = None
    statuses: dict[str, StatusDef] = field(default_factory=dict)
    match: MatchPolicy = field(default_factory=MatchPolicy)

    def field_name(self, name: str) -> str | None:
        """The field a name refers to: a field name itself or its display name (any case)."""
        lowered = name.strip().lower()
        for fname, display in self.fields.items():
            if fname.lower() == lowered or display.lower() == lowered:
                return fname
        return None

    def success_statuses(self) -> frozenset[str]:
        named = {s.name.lower() for s in self.statuses.values() if (s.system_status or "").upper() == "SUCCESS"}
        ids = {s.status_id.lower() for s in self.statuses.values() if (s.system_status or "").upper() == "SUCCESS"}
        return frozenset({"success", "success submit", *named, *ids})


@dataclass(frozen=True, slots=True)
class User:
    tenant: str
    usertype: str
    login: str
    password_hash: str


@dataclass(slots=True)
class Catalog:
    tenants: set[str] = field(default_factory=set)
    campaigns: dict[tuple[str, str], Campaign] = field(default_factory=dict)
    users: dict[tuple[str, str, str], User] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.monotonic)

    def campaign(self, tenant: str, campaign_id: str) -> Campaign | None:
        return self.campaigns.get((tenant, campaign_id))

    def campaign_by_name(self, tenant: str, name: str) -> Campaign | None:
        for c in self.campaigns.values():
            if c.tenant == tenant and c.name == name:
                return c
        return None

    def authenticate(self, tenant: str, usertype: str, login: str, secret: str, pwdtype: str) -> bool:
        user = self.users.get((tenant, usertype.strip().lower(), login))
        if user is None:
            return False
        return _verify(user.password_hash, secret, pwdtype.strip().lower())


@lru_cache(maxsize=4096)
def _verify(stored: str, secret: str, pwdtype: str) -> bool:
    """scrypt is slow on purpose; a credential checked once is remembered by its hash inputs."""
    return passwords.verify(stored, secret, pwdtype)
