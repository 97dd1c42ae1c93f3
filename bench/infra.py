"""The benchmark's own infrastructure: one embedded Postgres, a fresh tansu broker and database per session.

A session is one measurement: its broker (memory storage, so each session starts empty and its
memory is freed when it stops), its migrated database (dropped afterwards) and its topic names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from bench import workload
from service.catalog import store as catalog_store
from service.catalog.model import Campaign
from service.cli.embedded import EMBEDDED_TOPICS, Broker, Database, free_port
from service.config import Settings
from service.store import db as store_db
from service.store.migrate import migrate


@dataclass(slots=True)
class Session:
    dir: Path
    bootstrap: str
    dsn: str
    tag: str

    def settings(self, **overrides: object) -> Settings:
        """The service's settings: defaults, except where the embedded stack and the session differ."""
        values: dict[str, object] = {
            "kafka_bootstrap": self.bootstrap,
            "kafka_idempotent_producer": False,  # tansu has no InitProducerId
            **EMBEDDED_TOPICS,  # one node
            "group_id": f"bench-{self.tag}",
            "input_topic": f"in-{self.tag}",
            "results_topic": f"out-{self.tag}",
            "dead_letter_topic": f"dlq-{self.tag}",
            "jobs_topic": f"jobs-{self.tag}",
            "database_url": SecretStr(self.dsn),
            "http_host": "127.0.0.1",
            "http_port": 0,
            **overrides,
        }
        return Settings(**values)  # type: ignore[arg-type]


class Stack:
    """A temp folder holding a pgserver PostgreSQL (Unix socket) and the brokers' logs."""

    def __init__(self, base: Path | None = None) -> None:
        self._own = base is None
        self.base = Path(tempfile.mkdtemp(prefix="cis-bench-")) if base is None else base
        self.database = Database(self.base / "pg")
        self._count = 0

    def start(self) -> None:
        self.database.start()

    def stop(self) -> None:
        self.database.stop()
        if self._own:
            shutil.rmtree(self.base, ignore_errors=True)

    async def server_info(self) -> dict[str, str]:
        conn = await asyncpg.connect(self.database.dsn())
        try:
            info = {"version": str(await conn.fetchval("SHOW server_version"))}
            for name in ("shared_buffers", "fsync", "synchronous_commit", "max_wal_size"):
                info[name] = str(await conn.fetchval(f"SHOW {name}"))
            return info
        finally:
            await conn.close()

    @asynccontextmanager
    async def session(self, name: str, *, dialler_catalog: bool = False) -> AsyncIterator[Session]:
        """A fresh broker on a free loopback port and a fresh migrated database."""
        self._count += 1
        tag = f"{self._count:03d}{uuid.uuid4().hex[:6]}"
        folder = self.base / f"{self._count:03d}-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        broker = Broker(free_port(), folder / "broker.log")
        broker.start()
        dbname = f"bench_{tag}"
        try:
            dsn = await self._create_database(dbname, dialler_catalog)
            try:
                yield Session(folder, broker.bootstrap, dsn, tag)
            finally:
                await self._drop_database(dbname)
        finally:
            broker.stop()

    async def fresh_database(self, name: str) -> str:
        """A fresh migrated database without broker (store-only benchmarks); its DSN."""
        return await self._create_database(name, False)

    async def _create_database(self, name: str, dialler_catalog: bool) -> str:
        admin = await asyncpg.connect(self.database.dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        dsn = self.database.dsn(name)
        conn = await store_db.connect(dsn)
        try:
            await migrate(conn)
            if dialler_catalog:
                await catalog_store.add_tenant(conn, workload.TENANT)
                campaign = Campaign(workload.TENANT, workload.DIALLER_CAMPAIGN, workload.DIALLER_CAMPAIGN_NAME)
                await catalog_store.add_campaign(conn, campaign)
        finally:
            await conn.close()
        return dsn

    async def _drop_database(self, name: str) -> None:
        admin = await asyncpg.connect(self.database.dsn())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute("CHECKPOINT")
        finally:
            await admin.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``python -m service run`` read ``settings`` (every field explicit)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[f"CIS_{name.upper()}"] = str(value)
    return env


def child_env(settings: Settings) -> dict[str, str]:
    """This process's environment without any CIS_ variable, plus ``settings``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CIS_")}
    return {**base, **settings_env(settings)}
