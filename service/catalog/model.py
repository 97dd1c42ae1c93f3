"""The catalog as the dialect adapters see it: an in-memory snapshot of the configuration."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from service.catalog import passwords
from service.model.contact import MatchPolicy


@dataclass(frozen=True, slots=True)
class StatusDef:
    status_id: str
    name: str
    system_status: str | None


class PhonePolicy(StrEnum):
    """What an undialable number does to its record (service/pipeline/phones.py)."""

    FLAG = "flag"  # kept on the contact, flagged invalid, never dialled, a warning: the record goes on
    REJECT = "reject"  # as flag, and a record none of whose numbers can be dialled FAILS


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
    timezone: str | None = None  # IANA zone of the campaign's local times; None: the tenant's
    phone_policy: PhonePolicy = PhonePolicy.FLAG

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
    tenant_zones: dict[str, str] = field(default_factory=dict)  # tenant -> IANA zone, where one is set
    default_zone: str = "UTC"  # CIS_IMPORT_TIMEZONE: for a tenant and campaign without a zone

    def zone(self, tenant: str, campaign_id: str | None = None) -> str:
        """The zone the local times of a campaign (or of the tenant) are read in: the campaign's,
        else the tenant's, else the service-wide fallback."""
        found = self.campaigns.get((tenant, campaign_id)) if campaign_id is not None else None
        return (found.timezone if found else None) or self.tenant_zones.get(tenant) or self.default_zone

    def campaign(self, tenant: str, campaign_id: str) -> Campaign | None:
        return self.campaigns.get((tenant, campaign_id))

    def campaign_by_name(self, tenant: str, name: str) -> Campaign | None:
        for c in self.campaigns.values():
            if c.tenant == tenant and c.name == name:
                return c
        return None

    def login(self, tenant: str, usertype: str, login: str, secret: str, pwdtype: str) -> passwords.Verdict:
        """Check a credential. An unknown user or user type is checked against a dummy hash, so it
        takes as long as a wrong password and gives the same answer."""
        user = self.users.get((tenant, usertype.strip().lower(), login))
        verdict = _verify(user.password_hash if user else passwords.dummy_hash(), secret, pwdtype.strip().lower())
        return verdict if user is not None else passwords.Verdict(False)

    def password_hash(self, tenant: str, usertype: str, login: str) -> str | None:
        user = self.users.get((tenant, usertype.strip().lower(), login))
        return user.password_hash if user is not None else None

    def authenticate(self, tenant: str, usertype: str, login: str, secret: str, pwdtype: str) -> bool:
        return self.login(tenant, usertype, login, secret, pwdtype).ok


@lru_cache(maxsize=4096)
def _verify(stored: str, secret: str, pwdtype: str) -> passwords.Verdict:
    """argon2 is slow on purpose; a credential checked once is remembered by its hash inputs (and a
    legacy hash is re-hashed once, not on every login until the catalog is reloaded)."""
    return passwords.verify(stored, secret, pwdtype)
