"""The front door as a server of its own (``CIS_FRONTDOOR_ENABLED``), started and stopped by the app."""

from __future__ import annotations

import asyncpg

from service.catalog.cache import CatalogCache
from service.config import Settings
from service.frontdoor.door import Door
from service.frontdoor.engine import Engine
from service.frontdoor.guard import Guard
from service.frontdoor.routes import routes
from service.runtime.http import HttpServer


class FrontDoor:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, catalog: CatalogCache) -> None:
        s = settings
        self.engine = Engine(s, pool)
        door = Door(s, Guard(s, pool, catalog), self.engine)
        tls = (s.frontdoor_tls_certfile, s.frontdoor_tls_keyfile) if s.frontdoor_tls_certfile else None
        if tls is not None and tls[1] is None:
            raise ValueError("CIS_FRONTDOOR_TLS_CERTFILE needs CIS_FRONTDOOR_TLS_KEYFILE")
        self.server = HttpServer(
            s.http_host,
            s.frontdoor_port,
            routes(s.frontdoor_prefix.rstrip("/"), door),
            name="frontdoor",
            tls=(tls[0], tls[1]) if tls is not None and tls[1] is not None else None,
        )

    async def start(self) -> None:
        await self.engine.start()
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.engine.stop()
