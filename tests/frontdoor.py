"""Front-door test helpers: a service with the front door on, its port, its API users."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import asyncpg

from service.catalog import store as catalog_store
from service.config import Settings
from tests.support import ServiceProcess


def enabled(settings: Settings, **overrides: Any) -> Settings:
    """``settings`` with the front door on (off by default) on any free port."""
    return settings.model_copy(update={"frontdoor_enabled": True, "frontdoor_port": 0, **overrides})


def base_url(svc: ServiceProcess) -> str:
    svc.wait_log(r'"frontdoor endpoint listening"')
    svc.wait_log("partitions assigned")
    m = re.search(r'"port":(\d+),"event":"frontdoor endpoint listening"', svc.log())
    assert m, svc.log()[-2000:]
    return f"http://127.0.0.1:{m.group(1)}{svc.settings.frontdoor_prefix}"


async def api_user(conn: asyncpg.Connection, tenant: str, login: str, password: str) -> None:
    """An API user (HTTP basic auth) of ``tenant``; the service reads the catalog at start."""
    await catalog_store.add_user(conn, tenant, "api", login, password)


def start(spawn: Callable[..., ServiceProcess], settings: Settings, **overrides: Any) -> tuple[ServiceProcess, str]:
    svc = spawn(enabled(settings, **overrides))
    return svc, base_url(svc)
