"""``contact-import dnc add-list|load|remove|show``: manage do-not-call lists in Postgres."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime
from pathlib import Path

from service.cli.console import add_json_flag, confirm, print_json, print_rows
from service.config import Settings
from service.dialects.base import parse_datetime
from service.model.dnc import GLOBAL
from service.model.phones import normalise, region_code
from service.store import db
from service.store import dnc as store

COMMAND = "dnc"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("dnc", help="do-not-call lists: per tenant (--tenant) or global")
    actions = parser.add_subparsers(dest="dnc_command", required=True)
    add = actions.add_parser("add-list", help="create a list")
    add.add_argument("list")
    add.add_argument("--description")
    load = actions.add_parser("load", help="add the numbers of a CSV (number[,expires_at]) to a list")
    load.add_argument("list")
    load.add_argument("file", type=Path)
    load.add_argument("--region", help="ISO 3166 alpha-2 region of numbers written nationally")
    remove = actions.add_parser("remove", help="take numbers off a list")
    remove.add_argument("list")
    remove.add_argument("numbers", nargs="+")
    remove.add_argument("--region")
    show = actions.add_parser("show", help="the lists: a table (with how many numbers), or --json with the numbers")
    add_json_flag(show)
    for p in (add, load, remove):
        p.add_argument("--tenant", default=GLOBAL, help="the list's tenant (default: a global list)")


def _e164(number: str, region: str | None) -> str | None:
    n = normalise(number.strip(), region_code(region))
    return n.e164 if n.valid else None


def _expiry(value: str) -> datetime | None:
    """An ISO 8601 date or date and time (no offset: UTC); empty: never expires. ``ValueError`` when unreadable."""
    return parse_datetime(value.strip()) if value.strip() else None


Row = tuple[str, str, str, datetime | None]


def read_csv(path: Path, tenant: str, name: str, region: str | None) -> tuple[list[Row], list[str]]:
    """The rows of a ``number[,expires_at]`` CSV (a header line and blank lines skipped), and one
    problem per line that cannot be loaded (the load goes on without it)."""
    rows: list[Row] = []
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.reader(fh), 1):
            if not row or not "".join(row).strip():
                continue
            if i == 1 and row[0].strip().lower() in ("number", "phone"):
                continue
            phone = _e164(row[0], region)
            if phone is None:
                problems.append(f"line {i}: not a valid phone number, skipped")
                continue
            try:
                expires = _expiry(row[1]) if len(row) > 1 else None
            except ValueError:
                problems.append(f"line {i}: expiry is not an ISO 8601 date (e.g. 2027-01-01), skipped")
                continue
            rows.append((tenant, name, phone, expires))
    return rows, problems


async def run(settings: Settings, args: argparse.Namespace) -> None:
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        if args.dnc_command == "add-list":
            await store.add_list(conn, args.tenant, args.list, args.description)
            confirm(f"do-not-call list {args.list} ({'global' if args.tenant == GLOBAL else args.tenant}) added")
        elif args.dnc_command == "load":
            if not await store.list_exists(conn, args.tenant, args.list):
                raise SystemExit(f"no do-not-call list {args.list!r} (create it with dnc add-list)")
            rows, problems = read_csv(args.file, args.tenant, args.list, args.region)
            for problem in problems:
                print(problem, file=sys.stderr)
            async with conn.transaction():
                removed = await store.add_numbers(conn, rows) if rows else 0
            loaded = len({r[2] for r in rows})
            print(
                f"loaded {loaded} number(s), skipped {len(problems)}, {removed} dial-list entries removed",
                file=sys.stderr,
            )
        elif args.dnc_command == "remove":
            if not await store.list_exists(conn, args.tenant, args.list):
                raise SystemExit(f"no do-not-call list {args.list!r}")
            phones = []
            for number in args.numbers:
                phone = _e164(number, args.region)
                if phone is None:
                    print(f"{number[:64]!r}: not a valid phone number, skipped", file=sys.stderr)
                else:
                    phones.append(phone)
            gone = await store.remove_numbers(conn, args.tenant, args.list, phones)
            print(f"removed {gone} number(s)", file=sys.stderr)
        else:
            lists = await store.show(conn)
            if args.json:
                for one in lists:
                    print_json(one)
            else:
                summary = [
                    {**one, "tenant": one["tenant"] or "(global)", "numbers": len(one["numbers"])} for one in lists
                ]
                print_rows(summary, ("tenant", "list", "description", "numbers"), False)
    finally:
        await conn.close()
