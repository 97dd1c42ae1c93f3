"""Read and write the catalog tables."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from service.catalog import passwords
from service.catalog.model import Campaign, Catalog, PhonePolicy, StatusDef, User
from service.model.contact import MatchOn, MatchPolicy, MatchScope


async def load(conn: asyncpg.Connection) -> Catalog:
    catalog = Catalog(loaded_at=time.monotonic())
    tenants = await conn.fetch("SELECT tenant, timezone FROM tenants")
    catalog.tenants = {r["tenant"] for r in tenants}
    catalog.tenant_zones = {r["tenant"]: r["timezone"] for r in tenants if r["timezone"]}
    statuses: dict[tuple[str, str], dict[str, StatusDef]] = {}
    for r in await conn.fetch("SELECT tenant, campaign, status_id, name, system_status FROM campaign_statuses"):
        statuses.setdefault((r["tenant"], r["campaign"]), {})[r["status_id"]] = StatusDef(
            r["status_id"], r["name"], r["system_status"]
        )
    for r in await conn.fetch(
        "SELECT tenant, campaign, name, key_field, fields, uses_main_table, default_region,"
        " match_on, match_scope, match_lookback_days, timezone, phone_policy FROM campaigns"
    ):
        key = (r["tenant"], r["campaign"])
        catalog.campaigns[key] = Campaign(
            r["tenant"],
            r["campaign"],
            r["name"],
            r["key_field"],
            dict(r["fields"]),
            r["uses_main_table"],
            r["default_region"],
            statuses.get(key, {}),
            MatchPolicy(
                on=MatchOn(r["match_on"]), scope=MatchScope(r["match_scope"]), lookback_days=r["match_lookback_days"]
            ),
            r["timezone"],
            PhonePolicy(r["phone_policy"]),
        )
    for r in await conn.fetch("SELECT tenant, usertype, login, password_hash FROM tenant_users"):
        catalog.users[(r["tenant"], r["usertype"], r["login"])] = User(
            r["tenant"], r["usertype"], r["login"], r["password_hash"]
        )
    return catalog


async def add_tenant(
    conn: asyncpg.Connection, tenant: str, name: str | None = None, timezone: str | None = None
) -> None:
    """Add a tenant, or change its name and time zone (``timezone``: an IANA name, checked by the caller)."""
    await conn.execute(
        "INSERT INTO tenants (tenant, name, timezone) VALUES ($1, $2, $3)"
        " ON CONFLICT (tenant) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone",
        tenant,
        name,
        timezone,
    )


async def add_user(conn: asyncpg.Connection, tenant: str, usertype: str, login: str, password: str) -> None:
    await conn.execute(
        "INSERT INTO tenant_users (tenant, usertype, login, password_hash) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant, usertype, login) DO UPDATE SET password_hash = EXCLUDED.password_hash",
        tenant,
        usertype.lower(),
        login,
        passwords.hash_password(password),
    )


async def add_campaign(conn: asyncpg.Connection, c: Campaign) -> None:
    await conn.execute(
        "INSERT INTO campaigns (tenant, campaign, name, key_field, fields, uses_main_table, default_region,"
        " match_on, match_scope, match_lookback_days, timezone, phone_policy)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (tenant, campaign) DO UPDATE SET name = EXCLUDED.name,"
        " key_field = EXCLUDED.key_field, fields = EXCLUDED.fields, uses_main_table = EXCLUDED.uses_main_table,"
        " default_region = EXCLUDED.default_region, match_on = EXCLUDED.match_on,"
        " match_scope = EXCLUDED.match_scope, match_lookback_days = EXCLUDED.match_lookback_days,"
        " timezone = EXCLUDED.timezone, phone_policy = EXCLUDED.phone_policy",
        c.tenant,
        c.campaign,
        c.name,
        c.key_field,
        c.fields,
        c.uses_main_table,
        c.default_region,
        c.match.on.value,
        c.match.scope.value,
        c.match.lookback_days,
        c.timezone,
        c.phone_policy.value,
    )


async def add_status(
    conn: asyncpg.Connection, tenant: str, campaign: str, status_id: str, name: str, system_status: str | None
) -> None:
    await conn.execute(
        "INSERT INTO campaign_statuses (tenant, campaign, status_id, name, system_status) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant, campaign, status_id) DO UPDATE SET name = EXCLUDED.name,"
        " system_status = EXCLUDED.system_status",
        tenant,
        campaign,
        status_id,
        name,
        system_status.upper() if system_status else None,
    )


# Listing and removal, for the CLI (``contact-import tenant|user|campaign|status list|remove``).


async def tenants(conn: asyncpg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    """Every tenant (or the one named) with how many campaigns and users it has."""
    rows = await conn.fetch(
        "SELECT t.tenant, t.name, t.timezone,"
        " (SELECT count(*) FROM campaigns c WHERE c.tenant = t.tenant) AS campaigns,"
        " (SELECT count(*) FROM tenant_users u WHERE u.tenant = t.tenant) AS users, t.created_at"
        " FROM tenants t WHERE $1::text IS NULL OR t.tenant = $1 ORDER BY t.tenant",
        tenant,
    )
    return [dict(r) for r in rows]


async def users(conn: asyncpg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    """The API users (never their password hashes)."""
    rows = await conn.fetch(
        "SELECT tenant, usertype, login, created_at FROM tenant_users"
        " WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, usertype, login",
        tenant,
    )
    return [dict(r) for r in rows]


async def statuses(conn: asyncpg.Connection, tenant: str, campaign: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT tenant, campaign, status_id, name, system_status FROM campaign_statuses"
        " WHERE tenant = $1 AND campaign = $2 ORDER BY status_id",
        tenant,
        campaign,
    )
    return [dict(r) for r in rows]


async def tenant_exists(conn: asyncpg.Connection, tenant: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant = $1)", tenant))


async def tenant_dependants(conn: asyncpg.Connection, tenant: str) -> dict[str, int]:
    """What a tenant's removal takes with it (campaigns, users, file servers) and what it leaves (contacts)."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM campaigns WHERE tenant = $1) AS campaigns,"
        " (SELECT count(*) FROM tenant_users WHERE tenant = $1) AS users,"
        " (SELECT count(*) FROM file_servers WHERE tenant = $1) AS file_servers,"
        " (SELECT count(*) FROM customers WHERE tenant = $1) AS contacts",
        tenant,
    )
    return dict(row) if row is not None else {}


async def campaign_members(conn: asyncpg.Connection, tenant: str, campaign: str) -> int:
    """How many contacts are members of a campaign (removing the campaign leaves them)."""
    sql = "SELECT count(*) FROM campaign_records WHERE tenant = $1 AND campaign = $2"
    return int(await conn.fetchval(sql, tenant, campaign))


async def remove_tenant(conn: asyncpg.Connection, tenant: str) -> bool:
    """Remove a tenant with its users, campaigns, statuses and file servers; its contacts stay."""
    return str(await conn.execute("DELETE FROM tenants WHERE tenant = $1", tenant)) != "DELETE 0"


async def remove_user(conn: asyncpg.Connection, tenant: str, usertype: str, login: str) -> bool:
    done = await conn.execute(
        "DELETE FROM tenant_users WHERE tenant = $1 AND usertype = $2 AND login = $3", tenant, usertype.lower(), login
    )
    return str(done) != "DELETE 0"


async def remove_campaign(conn: asyncpg.Connection, tenant: str, campaign: str) -> bool:
    """Remove a campaign's definition and statuses; its members and dial-list entries stay."""
    done = await conn.execute("DELETE FROM campaigns WHERE tenant = $1 AND campaign = $2", tenant, campaign)
    return str(done) != "DELETE 0"


async def remove_status(conn: asyncpg.Connection, tenant: str, campaign: str, status_id: str) -> bool:
    done = await conn.execute(
        "DELETE FROM campaign_statuses WHERE tenant = $1 AND campaign = $2 AND status_id = $3",
        tenant,
        campaign,
        status_id,
    )
    return str(done) != "DELETE 0"
