"""What the catalog commands do: one handler per ``(noun, verb)``, each printing one confirmation line,
a table or JSON, and failing with a :class:`CliError` line."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from service.catalog import store
from service.catalog.model import Campaign, Catalog, PhonePolicy
from service.cli.console import CliError, confirm, print_json, print_one, print_rows, read_secret
from service.model.contact import MatchOn, MatchPolicy, MatchScope
from service.model.localtime import zone_error
from service.model.phones import region_code

Handler = Callable[[asyncpg.Connection, argparse.Namespace], Awaitable[None]]
CAMPAIGN_COLUMNS = ("tenant", "campaign", "name", "key_field", "region", "timezone", "match_on", "phone_policy")


def _zone(value: str | None) -> str | None:
    """A ``--timezone`` value, checked; an empty one means none."""
    if not value:
        return None
    problem = zone_error(value)
    if problem is not None:
        raise CliError(problem)
    return value


def campaign_view(c: Campaign) -> dict[str, Any]:
    return {
        "tenant": c.tenant,
        "campaign": c.campaign,
        "name": c.name,
        "key_field": c.key_field,
        "fields": c.fields,
        "main_table": c.uses_main_table,
        "region": c.default_region,
        "match": c.match.model_dump(mode="json"),
        "timezone": c.timezone,
        "phone_policy": c.phone_policy.value,
        "statuses": {k: [s.name, s.system_status] for k, s in c.statuses.items()},
    }


def _campaign_row(c: Campaign) -> dict[str, Any]:
    return {**campaign_view(c), "match_on": c.match.on.value, "statuses": len(c.statuses)}


async def _need_tenant(conn: asyncpg.Connection, tenant: str) -> None:
    if not await store.tenant_exists(conn, tenant):
        raise CliError(f"no tenant {tenant!r} (add it with: tenant add {tenant})")


async def _need_campaign(conn: asyncpg.Connection, tenant: str, campaign: str) -> Campaign:
    found = (await store.load(conn)).campaign(tenant, campaign)
    if found is None:
        await _need_tenant(conn, tenant)
        raise CliError(f"no campaign {campaign!r} of tenant {tenant!r}")
    return found


def _added(existed: bool) -> str:
    return "changed" if existed else "added"


def _removed(done: bool, name: str) -> None:
    if not done:
        raise CliError(f"no {name}")
    confirm(f"{name} removed")


def _campaigns(cat: Catalog) -> list[Campaign]:
    return sorted(cat.campaigns.values(), key=lambda c: (c.tenant, c.campaign))


# tenant


async def tenant_list(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    rows = await store.tenants(conn)
    print_rows(rows, ("tenant", "name", "timezone", "campaigns", "users", "created_at"), args.json)


async def tenant_show(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    rows = await store.tenants(conn, args.tenant)
    if not rows:
        raise CliError(f"no tenant {args.tenant!r}")
    print_one(rows[0], args.json)


async def tenant_add(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    zone = _zone(args.timezone)
    existed = await store.tenant_exists(conn, args.tenant)
    await store.add_tenant(conn, args.tenant, args.name, zone)
    confirm(f"tenant {args.tenant} {_added(existed)}")


def _counted(counts: dict[str, int], names: tuple[str, ...]) -> str:
    return ", ".join(f"{counts[n]} {n.replace('_', ' ')}" for n in names if counts.get(n))


async def tenant_remove(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    await _need_tenant(conn, args.tenant)
    counts = await store.tenant_dependants(conn, args.tenant)
    taken = _counted(counts, ("campaigns", "users", "file_servers"))
    if taken and not args.force:
        raise CliError(f"tenant {args.tenant} has {taken}: remove them first, or give --force to remove them too")
    await store.remove_tenant(conn, args.tenant)
    kept = f"; {counts['contacts']} contact(s) kept" if counts.get("contacts") else ""
    confirm(f"tenant {args.tenant} removed" + (f" with {taken}" if taken else "") + kept)


# user


def _user_name(args: argparse.Namespace) -> str:
    return f"user {args.tenant}/{args.login} ({args.usertype})"


async def user_list(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    print_rows(await store.users(conn, args.tenant), ("tenant", "usertype", "login", "created_at"), args.json)


async def _find_user(conn: asyncpg.Connection, args: argparse.Namespace) -> dict[str, Any] | None:
    wanted = (args.usertype, args.login)
    return next((u for u in await store.users(conn, args.tenant) if (u["usertype"], u["login"]) == wanted), None)


async def user_show(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    found = await _find_user(conn, args)
    if found is None:
        raise CliError(f"no {_user_name(args)}")
    print_one(found, args.json)


async def user_add(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    password = read_secret(args, "password")
    await _need_tenant(conn, args.tenant)
    existed = await _find_user(conn, args) is not None
    await store.add_user(conn, args.tenant, args.usertype, args.login, password)
    confirm(f"{_user_name(args)} {_added(existed)}")


async def user_remove(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    _removed(await store.remove_user(conn, args.tenant, args.usertype, args.login), _user_name(args))


# campaign


async def campaign_list(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    rows = [_campaign_row(c) for c in _campaigns(await store.load(conn)) if args.tenant in (None, c.tenant)]
    print_rows(rows, (*CAMPAIGN_COLUMNS, "statuses"), args.json)


async def campaign_show(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    print_one(campaign_view(await _need_campaign(conn, args.tenant, args.campaign)), args.json)


def _campaign_of(args: argparse.Namespace) -> Campaign:
    """The campaign ``campaign add`` describes, its options checked."""
    timezone = _zone(args.timezone)
    fields = dict(f.split("=", 1) if "=" in f else (f, f) for f in args.field)
    if args.region and region_code(args.region) is None:
        raise CliError(f"unknown region {args.region!r}: an ISO 3166 alpha-2 code such as DE")
    if args.lookback_days is not None and args.lookback_days < 1:
        raise CliError("--lookback-days must be at least 1")
    match = MatchPolicy(on=MatchOn(args.match_on), scope=MatchScope(args.match_scope), lookback_days=args.lookback_days)
    return Campaign(
        args.tenant,
        args.campaign,
        args.name or args.campaign,
        args.key_field,
        fields,
        args.main_table,
        region_code(args.region),
        match=match,
        timezone=timezone,
        phone_policy=PhonePolicy(args.phone_policy),
    )


async def campaign_add(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    campaign = _campaign_of(args)
    await _need_tenant(conn, args.tenant)
    existed = (await store.load(conn)).campaign(args.tenant, args.campaign) is not None
    try:
        await store.add_campaign(conn, campaign)
    except asyncpg.UniqueViolationError as exc:
        raise CliError(f"tenant {args.tenant} already has a campaign named {campaign.name!r}") from exc
    confirm(f"campaign {args.tenant}/{args.campaign} {_added(existed)}")


async def campaign_remove(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    await _need_campaign(conn, args.tenant, args.campaign)
    members = await store.campaign_members(conn, args.tenant, args.campaign)
    name = f"campaign {args.tenant}/{args.campaign}"
    if members and not args.force:
        raise CliError(f"{name} has {members} member contact(s); --force removes the campaign and keeps them")
    await store.remove_campaign(conn, args.tenant, args.campaign)
    confirm(f"{name} removed" + (f"; {members} member contact(s) kept" if members else ""))


# status


def _status_name(args: argparse.Namespace) -> str:
    return f"status {args.tenant}/{args.campaign}/{args.status_id}"


async def status_list(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    await _need_campaign(conn, args.tenant, args.campaign)
    rows = await store.statuses(conn, args.tenant, args.campaign)
    print_rows(rows, ("tenant", "campaign", "status_id", "name", "system_status"), args.json)


async def status_show(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    await _need_campaign(conn, args.tenant, args.campaign)
    found = [s for s in await store.statuses(conn, args.tenant, args.campaign) if s["status_id"] == args.status_id]
    if not found:
        raise CliError(f"no {_status_name(args)}")
    print_one(found[0], args.json)


async def status_add(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    campaign = await _need_campaign(conn, args.tenant, args.campaign)
    await store.add_status(conn, args.tenant, args.campaign, args.status_id, args.name, args.system)
    confirm(f"{_status_name(args)} {_added(args.status_id in campaign.statuses)}")


async def status_remove(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    _removed(await store.remove_status(conn, args.tenant, args.campaign, args.status_id), _status_name(args))


# catalog


async def catalog_show(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    cat = await store.load(conn)
    users = [{"tenant": u.tenant, "usertype": u.usertype, "login": u.login} for u in cat.users.values()]
    campaigns = _campaigns(cat)
    if args.json:
        print_json(
            {
                "tenants": sorted(cat.tenants),
                "tenant_timezones": dict(sorted(cat.tenant_zones.items())),
                "users": users,
                "campaigns": [campaign_view(c) for c in campaigns],
            }
        )
        return
    print_rows(await store.tenants(conn), ("tenant", "name", "timezone", "campaigns", "users"), False)
    print_rows(users, ("tenant", "usertype", "login"), False)
    print_rows([_campaign_row(c) for c in campaigns], (*CAMPAIGN_COLUMNS, "statuses"), False)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("tenant", "list"): tenant_list,
    ("tenant", "show"): tenant_show,
    ("tenant", "add"): tenant_add,
    ("tenant", "remove"): tenant_remove,
    ("user", "list"): user_list,
    ("user", "show"): user_show,
    ("user", "add"): user_add,
    ("user", "remove"): user_remove,
    ("campaign", "list"): campaign_list,
    ("campaign", "show"): campaign_show,
    ("campaign", "add"): campaign_add,
    ("campaign", "remove"): campaign_remove,
    ("status", "list"): status_list,
    ("status", "show"): status_show,
    ("status", "add"): status_add,
    ("status", "remove"): status_remove,
    ("catalog", "show"): catalog_show,
}
