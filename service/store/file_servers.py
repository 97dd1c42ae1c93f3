"""File servers registered by id per tenant (the iSales ``serverId``): SFTP host, login, base path.

Passwords are sealed (``sealing.seal``) in the table and unsealed only when a server is read for a
fetch. ``FileServer.spec`` joins the base path, the request's ``filePath`` and ``fileName`` so that
the result never leaves the base path.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import quote

import asyncpg
from pydantic import SecretStr

from service.config import Settings
from service.runtime.egress import SourceError, SourceSpec
from service.sealing import seal, unseal


@dataclass(frozen=True)
class FileServer:
    tenant: str
    server_id: str
    host: str
    port: int
    username: str
    base_path: str
    password: SecretStr = field(default=SecretStr(""), repr=False)
    host_key: str | None = None

    def path(self, file_path: str, file_name: str) -> str:
        """``base_path/file_path/file_name``; ``file_path`` is relative to the base even with a leading /."""
        if not file_name or "/" in file_name or "\\" in file_name or file_name in (".", ".."):
            raise SourceError("source.invalid_path", "fileName must be a plain file name")
        parts = [p for p in (file_path or "").replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts or any("\x00" in p for p in [*parts, file_name]):
            raise SourceError("source.invalid_path", "filePath may not climb out of the server's base path")
        base = posixpath.normpath("/" + self.base_path.strip("/"))
        return posixpath.join(base, *parts, file_name)

    def spec(self, file_path: str, file_name: str) -> SourceSpec:
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"sftp://{host}:{self.port}{quote(self.path(file_path, file_name))}"
        return SourceSpec("sftp", url, self.username, self.password, self.host_key)


async def add_file_server(conn: asyncpg.Connection, server: FileServer, settings: Settings) -> None:
    """Register or replace a file server; its password is sealed before it reaches the database."""
    await conn.execute(
        """
        INSERT INTO file_servers (tenant, server_id, host, port, username, password_sealed, base_path, host_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (tenant, server_id) DO UPDATE SET
            host = EXCLUDED.host, port = EXCLUDED.port, username = EXCLUDED.username,
            password_sealed = EXCLUDED.password_sealed, base_path = EXCLUDED.base_path,
            host_key = EXCLUDED.host_key, updated_at = now()
        """,
        server.tenant,
        server.server_id,
        server.host,
        server.port,
        server.username,
        seal(server.password.get_secret_value(), settings),
        server.base_path,
        server.host_key,
    )


async def get_file_server(
    conn: asyncpg.Connection, tenant: str, server_id: str, settings: Settings | None = None
) -> FileServer | None:
    """The server with its password unsealed (with ``settings``' key, else the environment's)."""
    row = await conn.fetchrow("SELECT * FROM file_servers WHERE tenant = $1 AND server_id = $2", tenant, server_id)
    if row is None:
        return None
    password = SecretStr(unseal(row["password_sealed"], settings or Settings()))
    return _server(row, password)


async def file_server_address(conn: asyncpg.Connection, tenant: str, server_id: str) -> tuple[str, int] | None:
    """The host and port of a registered server (its password is not unsealed), ``None`` when there is none."""
    row = await conn.fetchrow(
        "SELECT host, port FROM file_servers WHERE tenant = $1 AND server_id = $2", tenant, server_id
    )
    return (row["host"], row["port"]) if row is not None else None


async def list_file_servers(conn: asyncpg.Connection, tenant: str | None = None) -> list[FileServer]:
    """Registered servers, passwords left sealed (and out of the result)."""
    rows = await conn.fetch(
        "SELECT * FROM file_servers WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, server_id", tenant
    )
    return [_server(r, SecretStr("")) for r in rows]


async def remove_file_server(conn: asyncpg.Connection, tenant: str, server_id: str) -> bool:
    done = await conn.execute("DELETE FROM file_servers WHERE tenant = $1 AND server_id = $2", tenant, server_id)
    return bool(done.endswith(" 1"))


def _server(row: asyncpg.Record, password: SecretStr) -> FileServer:
    return FileServer(
        row["tenant"],
        row["server_id"],
        row["host"],
        row["port"],
        row["username"],
        row["base_path"],
        password,
        row["host_key"],
    )
