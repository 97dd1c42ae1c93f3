"""``contact-import parked list|redrive``: outbox messages the broker refused for good.

The relay parks a message the broker refuses whatever the retry (too large for the producer or the
topic, an invalid record, a topic the service may not write) and publishes everything behind it.
``list`` prints them as a table, or JSON lines with ``--json`` (neither key nor payload: they may hold
contact data); ``redrive ID…|--all``
queues them again, at the end of the publishing order, once the cause is fixed (an ACL granted, the
topic's max.message.bytes and CIS_KAFKA_MAX_REQUEST_BYTES raised). A message refused again is parked again.
"""

from __future__ import annotations

import argparse
import sys

from service.cli.console import add_json_flag, confirm, print_json, print_rows
from service.config import Settings
from service.store import db, parked

COMMAND = "parked"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("parked", help="outbox messages the broker refused for good: list and re-drive")
    actions = parser.add_subparsers(dest="parked_command", required=True)
    show = actions.add_parser("list", help="the parked messages, oldest first: a table, or --json")
    show.add_argument("--max", type=int, default=0, help="at most this many (0: all)")
    add_json_flag(show)
    redrive = actions.add_parser("redrive", help="queue parked messages again (after fixing the cause)")
    redrive.add_argument("ids", nargs="*", type=int, help="the parked messages' ids (seq, from list)")
    redrive.add_argument("--all", action="store_true", help="every parked message")
    add_json_flag(redrive)


COLUMNS = ("id", "topic", "bytes", "error", "created_at", "parked_at")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        if args.parked_command == "list":
            rows = [
                {
                    "id": p.seq,
                    "topic": p.topic,
                    "bytes": p.size,
                    "error": p.error,
                    "created_at": p.created_at.isoformat(),
                    "parked_at": p.parked_at.isoformat(),
                }
                for p in await parked.listing(conn, args.max)
            ]
            print_rows(rows, COLUMNS, args.json)
            return 0
        if bool(args.ids) == bool(args.all):
            print("name the ids to re-drive, or --all (not both)", file=sys.stderr)
            return 2
        moved = await parked.redrive(conn, None if args.all else list(args.ids))
        missing = sorted(set(args.ids) - {old for old, _ in moved})
        for old, new in moved:
            if args.json:
                print_json({"id": old, "queued_as": new})
            else:
                confirm(f"parked message {old} queued again as {new}")
        print(f"re-drove {len(moved)} parked message(s)", file=sys.stderr)
        if missing:
            print(f"not parked (unknown or already re-driven): {', '.join(map(str, missing))}", file=sys.stderr)
            return 1
        return 0
    finally:
        await conn.close()
