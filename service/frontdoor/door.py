"""What every front-door endpoint shares: the door (engine, guard, settings), the guard around each
handler, and the native answers built from an event's outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from service.config import Settings
from service.frontdoor.engine import Answer, BrokerUnavailable, Engine, event_id
from service.frontdoor.guard import Caller, Guard, Refused

log = structlog.get_logger(__name__)
RETRY_AFTER_S = "5"

Render = Callable[[list[dict[str, Any]]], Response]


class Door:
    """What every route shares: settings, the guard (who may call) and the engine (publish, await)."""

    def __init__(self, settings: Settings, guard: Guard, engine: Engine) -> None:
        self.settings, self.guard, self.engine = settings, guard, engine

    async def body(self, request: Request) -> bytes:
        """The request body, refused with 413 beyond ``frontdoor_max_body_bytes`` (read no further)."""
        limit = self.settings.frontdoor_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, "request too large")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, "request too large")
                chunks.append(chunk)
        except ClientDisconnect:
            raise Refused(400, "request incomplete") from None
        return b"".join(chunks)

    async def basic_json(self, request: Request) -> tuple[Caller, Any]:
        """HTTP basic auth, the rate limit, then the body as JSON."""
        caller = await self.guard.basic(request.headers.get("authorization"))
        self.guard.rate(caller)
        raw = await self.body(request)
        try:
            return caller, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refused(400, "the body is not JSON") from None

    async def run(
        self,
        request: Request,
        dialect: str,
        caller: Caller,
        data: Any,
        render: Render,
        *,
        key: str | None = None,
        salt: str = "",
    ) -> Response:
        """Publish the event and answer the dialect's native response, 202 while pending, 503 broker down.
        ``key``: what makes the request the same event without an Idempotency-Key (a CloudEvent's id);
        ``salt``: mixed into an Idempotency-Key where the caller is not authenticated before the
        pipeline (importWS: the request itself, so nobody without the password gets its event id)."""
        if isinstance(data, dict) and data.get("tenant") not in (None, caller.tenant):
            raise Refused(403, "a caller writes only its own tenant")
        idempotency = request.headers.get("idempotency-key")
        eid = event_id(caller.tenant, f"{idempotency}\x1f{salt}" if idempotency else key)
        try:
            answer = await self.engine.submit(dialect, caller.tenant, data, eid)
        except BrokerUnavailable:
            return _error(503, "the broker is unavailable; nothing was accepted", {"Retry-After": RETRY_AFTER_S})
        if answer.outcomes is None:
            return self.accepted(answer)
        response = render(answer.outcomes)
        response.headers["X-Event-Id"] = eid
        return response

    def accepted(self, answer: Answer) -> Response:
        location = f"{self.settings.frontdoor_prefix}/events/{answer.event_id}"
        return JSONResponse(
            {"event_id": answer.event_id, "status": "accepted", "location": location},
            status_code=202,
            headers={"Location": location, "Retry-After": "1"},
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"status": status, "message": message}, status_code=status, headers=headers)


def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return _error(refused.status, refused.message, refused.headers)

    return endpoint


def native_map(outcomes: list[dict[str, Any]]) -> Response:
    """Thulium: the per-customer entries merged in record order."""
    merged: dict[str, Any] = {}
    for o in outcomes:
        if isinstance(o.get("native"), dict):
            merged.update(o["native"])
    return JSONResponse(merged)


def native_single(outcomes: list[dict[str, Any]]) -> Response:
    """The Dialler: one contact per call, the HTTP status the response's own ``status``."""
    native = outcomes[0].get("native") or {}
    status = native.get("status") if isinstance(native, dict) else None
    return JSONResponse(native, status_code=status if isinstance(status, int) else 200)


def native_text(outcomes: list[dict[str, Any]]) -> Response:
    """importWS: the ``|Retuen|…`` text."""
    return PlainTextResponse("".join(str(o.get("native") or "") for o in outcomes))


def all_outcomes(outcomes: list[dict[str, Any]]) -> Response:
    """contact.v1: the outcomes themselves."""
    return JSONResponse({"event_id": outcomes[0]["event_id"], "outcomes": outcomes})
