"""HTTP on starlette and uvicorn: ``/metrics``, ``/healthz`` and ``/readyz``, and any further routes
(the front door) on a server of their own, with JSON access logs that hold no personal data."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import structlog
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.runtime.metrics import REGISTRY

log = structlog.get_logger(__name__)
access_log = structlog.get_logger("service.access")


class AccessLog:
    """One JSON line per request: method, route name, status, bytes and milliseconds. Never the query
    string (importWS sends passwords in it), the body, or the credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, sent = time.monotonic(), 500, 0

        async def counted(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            route = scope.get("route")
            access_log.info(
                "http request",
                method=scope["method"],
                route=getattr(route, "name", None) or "unmatched",
                status=status,
                bytes=sent,
                ms=round((time.monotonic() - started) * 1000, 1),
            )


class HttpServer:
    """A starlette app on uvicorn, started and stopped inside the service's event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: Sequence[BaseRoute],
        *,
        name: str = "http",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.app = Starlette(routes=list(routes))
        cert, key = tls if tls else (None, None)
        self._config = uvicorn.Config(
            AccessLog(self.app), host=host, port=port, log_config=None, access_log=False, lifespan="off",
            ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None,
        )  # fmt: skip
        self._name = name
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.servers
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = server = _Server(self._config)
        self._task = asyncio.create_task(server.serve(), name=self._name)
        while not server.started:
            if self._task.done():
                self._task.result()  # a port in use: raise at start-up
                raise RuntimeError(f"{self._name} server stopped while starting")
            await asyncio.sleep(0.01)
        log.info(f"{self._name} endpoint listening", host=self._config.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait({self._task}, timeout=10)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the service owns SIGINT and SIGTERM and stops us itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def health_routes(ready: Callable[[], tuple[bool, str]]) -> list[BaseRoute]:
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_: Request) -> Response:
        ok, why = ready()
        return PlainTextResponse(why + "\n", status_code=200 if ok else 503)

    return [
        Route("/metrics", metrics, name="metrics"),
        Route("/healthz", healthz, name="healthz"),
        Route("/readyz", readyz, name="readyz"),
    ]


class HealthServer(HttpServer):
    def __init__(self, host: str, port: int, ready: Callable[[], tuple[bool, str]]) -> None:
        super().__init__(host, port, health_routes(ready), name="http")
