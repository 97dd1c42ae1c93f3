"""``contact-import tenant|user|campaign|status|catalog``: manage the configuration in Postgres."""

from __future__ import annotations

import argparse
import sys

import orjson

from service.catalog import store
from service.catalog.model import Campaign, PhonePolicy
from service.config import Settings
from service.model.contact import MatchOn, MatchPolicy, MatchScope
from service.model.localtime import zone_error
from service.model.phones import region_code
from service.store import db

ZONE_HELP = (
    "IANA time zone (e.g. Europe/Warsaw) of the local times sent for it: Thulium next_call_date, importWS"
    " dialtime and exetime, iSales hour/minute and recycleTime, the dialler's dates"
)


def _zone(value: str | None) -> str | None:
    """A ``--timezone`` value, checked; an empty one means none."""
    if not value:
        return None
    problem = zone_error(value)
    if problem is not None:
        raise SystemExit(problem)
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tenant = sub.add_parser("tenant", help="add or rename a tenant (importWS orgidentity)")
    tenant.add_argument("action", choices=["add"])
    tenant.add_argument("tenant")
    tenant.add_argument("--name")
    tenant.add_argument("--timezone", help=ZONE_HELP)

    user = sub.add_parser("user", help="add an API user of a tenant (password stored as a slow hash)")
    user.add_argument("action", choices=["add"])
    user.add_argument("tenant")
    user.add_argument("login")
    user.add_argument("--type", dest="usertype", choices=["agent", "account"], default="account")
    user.add_argument("--password", help="the password (default: read from stdin)")

    campaign = sub.add_parser("campaign", help="add or change a campaign")
    campaign.add_argument("action", choices=["add"])
    campaign.add_argument("tenant")
    campaign.add_argument("campaign", help="external id (importWS model_id, DiallerCampaignsID, iSales campaignId)")
    campaign.add_argument("--name", help="display name (DiallerCampaignsName); default: the id")
    campaign.add_argument("--key-field", default="UserData", help="field whose value is the contact key")
    campaign.add_argument(
        "--field", action="append", default=[], metavar="NAME=DISPLAY", help="a field and its display name"
    )
    campaign.add_argument("--main-table", action="store_true", help="the campaign uses the tenant's main table")
    campaign.add_argument("--region", help="default region for phone numbers (ISO 3166 alpha-2, e.g. DE)")
    campaign.add_argument(
        "--match-on", choices=[m.value for m in MatchOn], default="user_data", help="what finds a duplicate"
    )
    campaign.add_argument(
        "--match-scope", choices=[m.value for m in MatchScope], default="tenant", help="where duplicates are sought"
    )
    campaign.add_argument("--lookback-days", type=int, help="only customers changed within N days are duplicates")
    campaign.add_argument("--timezone", help=ZONE_HELP + "; default: the tenant's")
    campaign.add_argument(
        "--phone-policy",
        choices=[p.value for p in PhonePolicy],
        default="flag",
        help="an undialable number: flag (kept, flagged, not dialled; the record goes on) or reject (as flag,"
        " and a record without any dialable number fails)",
    )

    status = sub.add_parser("status", help="add a status definition to a campaign")
    status.add_argument("action", choices=["add"])
    status.add_argument("tenant")
    status.add_argument("campaign")
    status.add_argument("status_id")
    status.add_argument("--name", required=True)
    status.add_argument("--system", help="system status, e.g. MY_RECORD, CALL_NO_SOONER_THAN, SUCCESS")

    show = sub.add_parser("catalog", help="print the configuration as JSON")
    show.add_argument("action", choices=["show"])


COMMANDS = {"tenant", "user", "campaign", "status", "catalog"}


async def run(settings: Settings, args: argparse.Namespace) -> None:
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        if args.command == "tenant":
            await store.add_tenant(conn, args.tenant, args.name, _zone(args.timezone))
        elif args.command == "user":
            password = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
            await store.add_user(conn, args.tenant, args.usertype, args.login, password)
        elif args.command == "campaign":
            timezone = _zone(args.timezone)
            fields = dict(f.split("=", 1) if "=" in f else (f, f) for f in args.field)
            if args.region and region_code(args.region) is None:
                raise SystemExit(f"unknown region {args.region!r}: an ISO 3166 alpha-2 code such as DE")
            if args.lookback_days is not None and args.lookback_days < 1:
                raise SystemExit("--lookback-days must be at least 1")
            match = MatchPolicy(
                on=MatchOn(args.match_on), scope=MatchScope(args.match_scope), lookback_days=args.lookback_days
            )
            await store.add_campaign(
                conn,
                Campaign(
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
                ),
            )
        elif args.command == "status":
            await store.add_status(conn, args.tenant, args.campaign, args.status_id, args.name, args.system)
        elif args.command == "catalog":
            cat = await store.load(conn)
            out = {
                "tenants": sorted(cat.tenants),
                "tenant_timezones": dict(sorted(cat.tenant_zones.items())),
                "users": [{"tenant": u.tenant, "usertype": u.usertype, "login": u.login} for u in cat.users.values()],
                "campaigns": [
                    {
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
                    for c in cat.campaigns.values()
                ],
            }
            sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    finally:
        await conn.close()
