"""Read and write the catalog tables."""

from __future__ import annotations

import time

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
