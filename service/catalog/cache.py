"""A catalog snapshot shared by the pipeline, reloaded from Postgres when older than its TTL."""

from __future__ import annotations

import time

import asyncpg
import structlog

from service.catalog import store
from service.catalog.model import Catalog
from service.errors import TransientError
from service.store.db import translated

log = structlog.get_logger(__name__)


class CatalogCache:
    def __init__(self, pool: asyncpg.Pool, ttl_s: float, default_zone: str = "UTC") -> None:
        self._pool = pool
        self._ttl = ttl_s
        self._default_zone = default_zone  # CIS_IMPORT_TIMEZONE: local times of tenants without a zone
        self._snapshot: Catalog | None = None

    async def get(self) -> Catalog:
        """The current snapshot; a stale one is kept while Postgres cannot be reached."""
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap.loaded_at < self._ttl:
            return snap
        try:
            async with translated(), self._pool.acquire() as conn:
                loaded = await store.load(conn)
            loaded.default_zone = self._default_zone
            self._snapshot = loaded
        except TransientError as exc:
            if snap is None:
                raise
            log.warning("catalog reload failed, keeping the previous snapshot", error=str(exc))
            return snap
        return self._snapshot
