"""``contact-import tenant|user|campaign|status list|show|add|remove`` and ``catalog show``: the
configuration in Postgres, one grammar (``<noun> <verb>``) for every catalog noun."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from service.catalog.model import PhonePolicy
from service.cli import catalog_commands as cli_commands
from service.cli.console import add_json_flag, add_secret_flags
from service.config import Settings
from service.model.contact import MatchOn, MatchScope
from service.store import db

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

COMMANDS = {"tenant", "user", "campaign", "status", "catalog"}

ZONE_HELP = (
    "IANA time zone (e.g. Europe/Warsaw) of the local times sent for it: Thulium next_call_date, importWS"
    " dialtime and exetime, iSales hour/minute and recycleTime, the dialler's dates"
)


def _verbs(sub: SubParsers, noun: str, text: str) -> dict[str, argparse.ArgumentParser]:
    """The noun's parser and its ``list``, ``show``, ``add`` and ``remove`` sub-commands."""
    verbs = sub.add_parser(noun, help=text, description=text).add_subparsers(dest="verb", required=True)
    out = {
        "list": verbs.add_parser("list", help=f"every {noun}, as a table (--json: JSON lines)"),
        "show": verbs.add_parser("show", help=f"one {noun}, as a table (--json: one JSON line)"),
        "add": verbs.add_parser("add", help=f"add a {noun}, or change the one there is"),
        "remove": verbs.add_parser("remove", help=f"remove a {noun}"),
    }
    add_json_flag(out["list"])
    add_json_flag(out["show"])
    return out


def _tenant(sub: SubParsers) -> None:
    p = _verbs(sub, "tenant", "tenants (importWS orgidentity)")
    for verb in ("show", "add", "remove"):
        p[verb].add_argument("tenant")
    p["add"].add_argument("--name")
    p["add"].add_argument("--timezone", help=ZONE_HELP)
    p["remove"].description = (
        "Refused while the tenant has campaigns, users or file servers (the line says which); --force removes"
        " them with it. Contacts are never removed by this command: they stay in the database."
    )
    p["remove"].add_argument("--force", action="store_true", help="also remove its campaigns, users, file servers")


def _user(sub: SubParsers) -> None:
    p = _verbs(sub, "user", "API users of a tenant (passwords stored as a slow hash)")
    p["list"].add_argument("--tenant", help="only this tenant's users")
    for verb in ("show", "add", "remove"):
        p[verb].add_argument("tenant")
        p[verb].add_argument("login")
        p[verb].add_argument("--type", dest="usertype", choices=["agent", "account", "api"], default="account")
    p["add"].description = (
        "The password is read from stdin (--password-stdin), from an environment variable (--password-env"
        " NAME) or, in a terminal, asked for twice; never from the command line."
    )
    add_secret_flags(p["add"], "password")


def _campaign(sub: SubParsers) -> None:
    p = _verbs(sub, "campaign", "campaigns of a tenant")
    p["list"].add_argument("--tenant", help="only this tenant's campaigns")
    for verb in ("show", "add", "remove"):
        p[verb].add_argument("tenant")
        p[verb].add_argument("campaign", help="external id (importWS model_id, DiallerCampaignsID, iSales campaignId)")
    p["remove"].description = (
        "Removes the campaign's definition and statuses, never its contacts: refused while contacts are"
        " members (the line says how many); --force removes the definition and keeps the members and"
        " their dial-list entries."
    )
    p["remove"].add_argument("--force", action="store_true", help="remove it although contacts are members")
    add = p["add"]
    add.add_argument("--name", help="display name (DiallerCampaignsName); default: the id")
    add.add_argument("--key-field", default="UserData", help="field whose value is the contact key")
    add.add_argument(
        "--field", action="append", default=[], metavar="NAME=DISPLAY", help="a field and its display name"
    )
    add.add_argument("--main-table", action="store_true", help="the campaign uses the tenant's main table")
    add.add_argument("--region", help="default region for phone numbers (ISO 3166 alpha-2, e.g. DE)")
    add.add_argument(
        "--match-on", choices=[m.value for m in MatchOn], default="user_data", help="what finds a duplicate"
    )
    add.add_argument(
        "--match-scope", choices=[m.value for m in MatchScope], default="tenant", help="where duplicates are sought"
    )
    add.add_argument("--lookback-days", type=int, help="only customers changed within N days are duplicates")
    add.add_argument("--timezone", help=ZONE_HELP + "; default: the tenant's")
    add.add_argument(
        "--phone-policy",
        choices=[p.value for p in PhonePolicy],
        default="flag",
        help="an undialable number: flag (kept, flagged, not dialled; the record goes on) or reject (as flag,"
        " and a record without any dialable number fails)",
    )


def _status(sub: SubParsers) -> None:
    p = _verbs(sub, "status", "status definitions of a campaign")
    for verb in ("list", "show", "add", "remove"):
        p[verb].add_argument("tenant")
        p[verb].add_argument("campaign")
    for verb in ("show", "add", "remove"):
        p[verb].add_argument("status_id")
    p["add"].add_argument("--name", required=True)
    p["add"].add_argument("--system", help="system status, e.g. MY_RECORD, CALL_NO_SOONER_THAN, SUCCESS")


def register(sub: SubParsers) -> None:
    _tenant(sub)
    _user(sub)
    _campaign(sub)
    _status(sub)
    catalog = sub.add_parser("catalog", help="the whole configuration").add_subparsers(dest="verb", required=True)
    add_json_flag(catalog.add_parser("show", help="tenants, users and campaigns as tables (--json: one document)"))


async def run(settings: Settings, args: argparse.Namespace) -> None:
    handler = cli_commands.HANDLERS[(args.command, args.verb)]
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        await handler(conn, args)
    finally:
        await conn.close()
