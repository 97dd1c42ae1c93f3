"""Session-wide real infrastructure: one tansu broker and one PostgreSQL, a fresh database per test."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from service.cli.embedded import Broker, Database, free_port
from service.config import Settings
from service.store import db as store_db
from service.store.migrate import migrate
from tests.support import ServiceProcess, make_settings


class Infra:
    def __init__(self, broker: Broker, database: Database) -> None:
        self.broker = broker
        self.database = database


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """A real Kafka-protocol broker and a real Postgres; failing to start them fails the tests.

    Not under pytest's temporary root: pytest makes that root private to root (0700) whenever a
    session starts, and as root the Postgres server runs as its own user, which must reach its data.
    """
    base = Path(tempfile.mkdtemp(prefix="cis-test-infra-"))
    base.chmod(0o755)
    broker = Broker(free_port(), base / "broker.log")
    broker.start()
    database = Database(base / "pg")
    database.start()
    try:
        yield Infra(broker, database)
    finally:
        broker.stop()
        database.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def dsn(infra: Infra) -> str:
    """A fresh, migrated database for this test."""
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        admin = await asyncpg.connect(infra.database.dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await store_db.connect(infra.database.dsn(name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(create())
    return infra.database.dsn(name)


@pytest.fixture
def settings(infra: Infra, dsn: str) -> Settings:
    """Settings for one test: its own topics, group and database."""
    return make_settings(infra.broker.bootstrap, dsn, uuid.uuid4().hex[:8])


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await store_db.connect(dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    """Start service processes; every one still running is killed at the end of the test."""
    started: list[ServiceProcess] = []

    def _spawn(settings: Settings, name: str = "svc", **env: str) -> ServiceProcess:
        p = ServiceProcess(settings, tmp_path / f"{name}.log", **env).start()
        started.append(p)
        return p

    yield _spawn
    for p in started:
        p.kill()
