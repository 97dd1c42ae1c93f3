"""The catalog CLI writes tenants, users, campaigns and statuses that the dialects then read."""

from __future__ import annotations

import asyncpg
import orjson

from service.catalog import store
from tests.support import run_cli


def _cli(dsn: str, *args: str, stdin: str | None = None) -> str:
    return run_cli(dsn, *args, stdin=stdin).stdout


async def test_catalog_managed_by_cli(dsn: str, conn: asyncpg.Connection) -> None:
    _cli(dsn, "tenant", "add", "acme", "--name", "ACME")
    _cli(dsn, "user", "add", "acme", "api", "--type", "account", "--password-stdin", stdin="s3cret\n")
    _cli(dsn, "campaign", "add", "acme", "538", "--name", "My Campaign", "--field", "phone1=Phone",
         "--field", "Name=Name", "--key-field", "Customer", "--main-table", "--region", "DE")  # fmt: skip
    _cli(dsn, "status", "add", "acme", "538", "8", "--name", "Mine", "--system", "my_record")
    shown = orjson.loads(_cli(dsn, "catalog", "show", "--json"))
    assert shown["tenants"] == ["acme"]
    assert shown["users"] == [{"tenant": "acme", "usertype": "account", "login": "api"}]
    (campaign,) = shown["campaigns"]
    assert campaign["fields"] == {"phone1": "Phone", "Name": "Name"} and campaign["main_table"] is True
    assert campaign["statuses"] == {"8": ["Mine", "MY_RECORD"]}

    cat = await store.load(conn)
    c = cat.campaign("acme", "538")
    assert c is not None and c.key_field == "Customer" and c.field_name("phone") == "phone1"
    assert cat.campaign_by_name("acme", "My Campaign") is c
    hashed = await conn.fetchval("SELECT password_hash FROM tenant_users")
    assert "s3cret" not in hashed and hashed.startswith("$argon2id$")
    assert cat.authenticate("acme", "account", "api", "s3cret", "plaintext")
    assert cat.authenticate("acme", "ACCOUNT", "api", "33E1B232A4E6FA0028A6670753749A17", "MD5")  # md5 of s3cret
    assert cat.authenticate("acme", "account", "api", "wrong", "plaintext") is False
