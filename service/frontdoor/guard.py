"""Who may call: HTTP basic auth against the catalog's API users (through the login throttle), a
request size limit and a per-user rate limit."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass, field

import asyncpg

from service.catalog.cache import CatalogCache
from service.catalog.model import Catalog
from service.config import Settings
from service.model.records import Login
from service.store import logins

API_USERTYPE = "api"  # catalog users of this type may call the front door with HTTP basic auth


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


UNAUTHORIZED = Refused(401, "authentication failed", {"WWW-Authenticate": 'Basic realm="contact-import"'})


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    login: str


def basic_credentials(header: str | None) -> tuple[str, str]:
    if not header or not header.lower().startswith("basic "):
        raise UNAUTHORIZED
    try:
        login, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise UNAUTHORIZED from None
    if not sep or not login:
        raise UNAUTHORIZED
    return login, password


def _tenant_of(catalog: Catalog, login: str) -> str | None:
    """The tenant of an API login; a login that two tenants share is ambiguous and refused."""
    found = [t for (t, usertype, name) in catalog.users if usertype == API_USERTYPE and name == login]
    return found[0] if len(found) == 1 else None


class Guard:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, catalog: CatalogCache) -> None:
        self._s = settings
        self._pool = pool
        self._catalog = catalog
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    async def basic(self, header: str | None) -> Caller:
        """The caller of an ``Authorization: Basic`` header; a failed login counts in the throttle."""
        login, password = basic_credentials(header)
        catalog = await self._catalog.get()
        tenant = _tenant_of(catalog, login)
        # argon2 takes its time on purpose: off the event loop (an unknown login costs the same)
        verdict = await asyncio.to_thread(catalog.login, tenant or "", API_USERTYPE, login, password, "plaintext")
        if tenant is None:
            raise UNAUTHORIZED
        stored = catalog.password_hash(tenant, API_USERTYPE, login)
        await self.throttled(Login(tenant, login, verdict.ok, stored_hash=stored, rehash=verdict.rehash))
        return Caller(tenant, login)

    async def throttled(self, attempt: Login) -> None:
        """Pass the attempt through the login throttle: refused when wrong or locked."""
        async with self._pool.acquire() as conn, conn.transaction():
            let_in = await logins.attempt(
                conn,
                [attempt],
                max_failures=self._s.login_max_failures,
                window_s=self._s.login_failure_window_s,
                lock_s=self._s.login_lock_s,
            )
        if not let_in[0]:
            raise UNAUTHORIZED

    def rate(self, caller: Caller) -> None:
        """The per-user rate limit (a token bucket per tenant and login)."""
        if self._s.frontdoor_rate_per_s <= 0:
            return
        key = (caller.tenant, caller.login)
        bucket = self._buckets.setdefault(key, _Bucket(float(self._s.frontdoor_rate_burst)))
        if not bucket.take(self._s.frontdoor_rate_per_s, self._s.frontdoor_rate_burst):
            raise Refused(429, "too many requests", {"Retry-After": "1"})


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float = field(default_factory=time.monotonic)

    def take(self, per_s: float, burst: int) -> bool:
        now = time.monotonic()
        self.tokens = min(float(burst), self.tokens + (now - self.at) * per_s)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
