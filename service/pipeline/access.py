"""Who may write which tenant: the rules every dialect's records obey, and the login throttle.

Tenant rules (pure, applied to every parsed record, whatever the dialect):

* a CloudEvents ``tenant`` attribute, when the event carries one, must name the record's tenant
  (``tenant.mismatch``);
* ``CIS_REQUIRE_TENANT_ATTRIBUTE``: every event must carry the attribute (``tenant.attribute_missing``)
  and it must be a catalog tenant (``tenant.unknown``);
* ``CIS_TOPIC_TENANTS``: an input topic bound to tenants carries only their records; once any
  topic is bound, a topic not listed carries none (``tenant.not_allowed``);
* a ``dnc.v1`` change to a global do-not-call list, which reaches every tenant's dial lists, comes
  only from a topic in ``CIS_DNC_GLOBAL_TOPICS`` (``tenant.global_dnc_not_allowed``).

A record breaking a rule fails alone, with the code; the stream goes on. An event with a record
denied by these rules or by a failed login ("denied") is neither applied nor remembered by its id,
so it can never claim, or be answered with the outcomes of, another tenant's event.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from service.catalog.model import Catalog
from service.config import Settings
from service.errors import ErrorDetail
from service.model.contact import ContactRecord
from service.model.dnc import GLOBAL
from service.model.job import ImportRequest
from service.model.records import AUTH_FAILED, Login, Parsed, Rejected
from service.store import logins

GLOBAL_DNC = ErrorDetail(
    "tenant.global_dnc_not_allowed",
    "/",
    "this topic may not change the global do-not-call lists (CIS_DNC_GLOBAL_TOPICS)",
)
MISMATCH = ErrorDetail("tenant.mismatch", "/", "the record's tenant differs from the event's tenant attribute")
ATTRIBUTE_MISSING = ErrorDetail(
    "tenant.attribute_missing", "/", "the CloudEvents attribute 'tenant' is required on this service"
)


def names(record: ContactRecord | Rejected | ImportRequest) -> tuple[str | None, str | None, str | None]:
    """Tenant, campaign and UserData of a parsed record (a file import request has no UserData)."""
    if isinstance(record, ContactRecord):
        return record.tenant, record.campaign, record.contact.user_data or None
    if isinstance(record, ImportRequest):
        return record.tenant, record.campaign, None
    return record.tenant, record.campaign, record.user_data


def reject(p: Parsed, *errors: ErrorDetail, first: bool = True) -> Parsed:
    """``p`` failed with ``errors`` (before or after the errors it already has), login kept."""
    rec = p.record
    held = rec.errors if isinstance(rec, Rejected) else []
    joined = [*errors, *held] if first else [*held, *errors]
    return Parsed(Rejected(joined, *names(rec)), p.warnings, login=p.login)


def enforce_tenants(
    settings: Settings, topic: str, attribute: str | None, parsed: list[Parsed], catalog: Catalog
) -> list[Parsed]:
    """Each record checked against the tenant rules; a record breaking one fails with its code."""
    parsed = _global_dnc(settings, topic, parsed)
    if attribute is None and not settings.topic_tenants and not settings.require_tenant_attribute:
        return parsed  # no rule applies
    bound = settings.topic_tenants
    allowed = set(bound.get(topic, ())) if bound else None
    event_errors: list[ErrorDetail] = []
    if settings.require_tenant_attribute:
        if attribute is None:
            event_errors.append(ATTRIBUTE_MISSING)
        elif attribute not in catalog.tenants:
            event_errors.append(ErrorDetail("tenant.unknown", "/", f"tenant {attribute[:64]!r} is not in the catalog"))
    out: list[Parsed] = []
    for p in parsed:
        tenant = names(p.record)[0]
        errors = list(event_errors)
        if attribute is not None and tenant is not None and tenant != attribute and not _reported_mismatch(p):
            errors.append(MISMATCH)
        if allowed is not None and tenant is not None and tenant not in allowed:
            message = f"topic {topic[:100]!r} may not write tenant {tenant[:64]!r}"
            errors.append(ErrorDetail("tenant.not_allowed", "/", message))
        out.append(reject(p, *errors) if errors else p)
    return out


def _global_dnc(settings: Settings, topic: str, parsed: list[Parsed]) -> list[Parsed]:
    """A change to a global do-not-call list reaches every tenant: only topics named for it may make one."""
    if topic in settings.dnc_global_topics:
        return parsed
    return [reject(p, GLOBAL_DNC) if p.change is not None and p.change.tenant == GLOBAL else p for p in parsed]


def _reported_mismatch(p: Parsed) -> bool:
    return isinstance(p.record, Rejected) and any(e.code.endswith("tenant_mismatch") for e in p.record.errors)


def denied(parsed: Sequence[Parsed]) -> bool:
    """Whether the event failed its access checks: a login, or a tenant rule."""
    return any(isinstance(p.record, Rejected) and any(_denial(e) for e in p.record.errors) for p in parsed)


def _denial(e: ErrorDetail) -> bool:
    return e.code == AUTH_FAILED.code or e.code.startswith("tenant.") or e.code.endswith(".tenant_mismatch")


def deny_all(parsed: list[Parsed]) -> list[Parsed]:
    """A denied event applies nothing: every record of it fails (one tenant per event in practice)."""
    reason = next(e for p in parsed if isinstance(p.record, Rejected) for e in p.record.errors if _denial(e))
    return [p if isinstance(p.record, Rejected) else reject(p, reason) for p in parsed]


def event_tenant(parsed: Sequence[Parsed], attribute: str | None) -> str | None:
    """The tenant an event writes: its records' (one per event in every dialect), else the attribute."""
    return next((t for p in parsed if (t := names(p.record)[0]) is not None), attribute)


async def throttle(conn: asyncpg.Connection, settings: Settings, events: list[list[Parsed]]) -> list[list[Parsed]]:
    """Count the batch's logins, in order, against the shared failure counts; a locked user's
    records fail with the same "authentication failed" as a wrong password. Runs in the batch's
    transaction, so a rolled-back batch counts nothing."""
    attempts = [p.login for parsed in events for p in parsed if p.login is not None]
    if not attempts:
        return events
    let_in = iter(
        await logins.attempt(
            conn,
            attempts,
            max_failures=settings.login_max_failures,
            window_s=settings.login_failure_window_s,
            lock_s=settings.login_lock_s,
        )
    )
    out: list[list[Parsed]] = []
    for parsed in events:
        checked: list[Parsed] = []
        for p in parsed:
            if p.login is not None and not next(let_in) and p.login.ok:
                # locked: exactly what a wrong password gets, whatever else the record held
                tenant, campaign, _ = names(p.record)
                p = Parsed(Rejected([AUTH_FAILED], tenant, campaign), list(p.login.warnings), login=_failed(p.login))
            checked.append(p)
        out.append(checked)
    return out


def _failed(login: Login) -> Login:
    return Login(login.tenant, login.login, ok=False)
