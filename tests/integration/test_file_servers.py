"""File servers registered by id: the CLI, sealed passwords in Postgres, and a fetch through one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import orjson
from pydantic import SecretStr

from service.catalog import store
from service.config import Settings
from service.sealing import new_key, seal, unseal
from service.store.file_servers import get_file_server
from tests.servers import fetch_bytes, sftp_server
from tests.support import ROOT

PASSWORD = "Sftp-Pa55-wörd"


def cli(dsn: str, key: str | None, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CIS_DATABASE_URL": dsn, **env}
    full.pop("CIS_IMPORT_SECRET_KEY", None)
    if key is not None:
        full["CIS_IMPORT_SECRET_KEY"] = key
    done = subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, done.stderr
    return done


def _listed(dsn: str, key: str, *args: str) -> list[dict[str, object]]:
    """``file-server list --json``: one JSON object per line."""
    return [orjson.loads(line) for line in cli(dsn, key, "file-server", "list", "--json", *args).stdout.splitlines()]


async def test_file_servers_managed_by_cli_with_sealed_passwords(dsn: str, conn: asyncpg.Connection) -> None:
    key = new_key()
    await store.add_tenant(conn, "acme", None)
    cli(dsn, key, "file-server", "add", "--tenant", "acme", "--id", "164690088271159234793429225848",
        "--host", "files.example.com", "--port", "2222", "--user", "isales", "--password-env", "FS_PW",
        "--base-path", "/outbound", "--host-key", "ssh-ed25519 AAAAkey", FS_PW=PASSWORD)  # fmt: skip
    cli(dsn, key, "file-server", "add", "--tenant", "acme", "--id", "second", "--host", "10.0.0.5",
        "--user", "u2", "--password-env", "FS_PW", FS_PW="other")  # fmt: skip

    listed = _listed(dsn, key, "--tenant", "acme")
    assert [s["id"] for s in listed] == ["164690088271159234793429225848", "second"]
    assert listed[0] == {
        "tenant": "acme",
        "id": "164690088271159234793429225848",
        "host": "files.example.com",
        "port": 2222,
        "user": "isales",
        "base_path": "/outbound",
        "host_key": "ssh-ed25519 AAAAkey",
    }
    assert listed[1]["port"] == 22 and listed[1]["base_path"] == "/"

    # the password is nowhere in the table in plain text, in any encoding
    dump = "\n".join(str(dict(r)) for r in await conn.fetch("SELECT * FROM file_servers"))
    table_text = await conn.fetchval("SELECT string_agg(f::text, '|') FROM file_servers f")
    for text in (dump, table_text):
        assert PASSWORD not in text and PASSWORD.encode().hex() not in text and "other" not in text

    server = await get_file_server(
        conn, "acme", "164690088271159234793429225848", Settings(import_secret_key=SecretStr(key))
    )
    assert server is not None and server.password.get_secret_value() == PASSWORD
    assert server.host == "files.example.com" and server.port == 2222 and server.host_key == "ssh-ed25519 AAAAkey"
    assert await get_file_server(conn, "acme", "nope", Settings(import_secret_key=SecretStr(key))) is None
    assert await get_file_server(conn, "other-tenant", "second", Settings(import_secret_key=SecretStr(key))) is None

    cli(dsn, key, "file-server", "remove", "--tenant", "acme", "--id", "second")
    cli(dsn, key, "file-server", "remove", "--tenant", "acme", "--id", "second", code=1)
    assert [s["id"] for s in _listed(dsn, key)] == ["164690088271159234793429225848"]


async def test_adding_a_server_needs_a_key_and_the_password_variable(dsn: str, conn: asyncpg.Connection) -> None:
    await store.add_tenant(conn, "acme", None)
    base = ["file-server", "add", "--tenant", "acme", "--id", "s", "--host", "h", "--user", "u", "--password-env"]
    done = cli(dsn, None, *base, "FS_PW", FS_PW=PASSWORD, code=2)
    assert "CIS_IMPORT_SECRET_KEY" in done.stderr and PASSWORD not in done.stderr + done.stdout
    done = cli(dsn, new_key(), *base, "NO_SUCH_VARIABLE", code=2)
    assert "NO_SUCH_VARIABLE" in done.stderr
    assert await conn.fetchval("SELECT count(*) FROM file_servers") == 0


def test_secret_key_prints_a_usable_key(dsn: str) -> None:
    key = cli(dsn, None, "secret-key").stdout.strip()
    settings = Settings(import_secret_key=SecretStr(key))
    assert unseal(seal("x", settings), settings) == "x"


async def test_a_registered_sftp_server_serves_a_file(dsn: str, conn: asyncpg.Connection, tmp_path: Path) -> None:
    root = tmp_path / "sftp"
    (root / "out" / "isales" / "upload").mkdir(parents=True)
    (root / "out" / "isales" / "upload" / "demo.csv").write_bytes(b"sessionId,called\n")
    key = new_key()
    await store.add_tenant(conn, "acme", None)
    with sftp_server(root, username="isales", password=PASSWORD) as served:
        assert served.host_key is not None
        cli(dsn, key, "file-server", "add", "--tenant", "acme", "--id", "srv", "--host", "127.0.0.1",
            "--port", str(served.port), "--user", "isales", "--password-env", "FS_PW", "--base-path", "/out",
            "--host-key", served.host_key, FS_PW=PASSWORD)  # fmt: skip
        server = await get_file_server(conn, "acme", "srv", Settings(import_secret_key=SecretStr(key)))
        assert server is not None
        assert await fetch_bytes(server.spec("/isales/upload", "demo.csv")) == b"sessionId,called\n"
