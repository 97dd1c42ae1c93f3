"""Every front-door route, registered in one place by name: ``routes(prefix, door)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from service.frontdoor import vendors
from service.frontdoor.door import Door, guarded


def routes(prefix: str, door: Door) -> list[BaseRoute]:
    table: list[tuple[str, str, list[str], Callable[[Door, Request], Awaitable[Response]]]] = [
        ("thulium.records", "/api/batch/crm_outbounds/{id}/records", ["POST"], vendors.thulium),
        ("dialler.import", "/dialler/contacts/import", ["POST"], vendors.dialler),
        ("importws.import", "/importws", ["GET", "POST"], vendors.importws),
        ("contact_v1.events", "/events", ["POST"], vendors.cloudevent),
        ("events.get", "/events/{event_id}", ["GET"], vendors.event),
    ]

    def bound(fn: Callable[[Door, Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            return await fn(door, request)

        return guarded(handler)

    return [Route(prefix + path, bound(fn), methods=methods, name=name) for name, path, methods, fn in table]
