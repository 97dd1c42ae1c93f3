"""``contact-import``: run the service, the embedded dev stack, and the round-trip tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from service.catalog import cli as catalog_cli
from service.config import Settings
from service.imports import cli as imports_cli
from service.imports import jobs_cli
from service.ops import dnc as dnc_cli
from service.ops import erase as erase_cli
from service.ops import logs
from service.ops import parked as parked_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contact-import", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the service with the settings from the environment")
    dev = sub.add_parser(
        "dev",
        help="start the embedded broker and Postgres (unless configured) and run",
        epilog="The state folder is CIS_STATE_DIR, the HTTP port CIS_HTTP_PORT (bound to 127.0.0.1 unless"
        " CIS_HTTP_HOST is set); where everything runs is printed and written to <state folder>/dev.env.",
    )
    dev.add_argument("--kafka-port", type=int, default=9092, help="port of the embedded broker (default: 9092)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser("topics", help="create the input, results and dead-letter topics and exit")
    produce = sub.add_parser("produce", help="publish the events in FILE to the input topic")
    produce.add_argument("file", type=Path, help="JSON array, JSON object or JSON lines; '-' for stdin")
    produce.add_argument("--dialect", help="send each item as this dialect's data (a 'dialect' header)")
    produce.add_argument("--topic", help="topic (default: the input topic)")
    results = sub.add_parser("results", help="print outcome events from the results topic as JSON lines")
    results.add_argument("--topic", help="topic (default: the results topic)")
    results.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")
    results.add_argument("--max", type=int, default=0, help="stop after this many outcomes (0: no limit)")
    results.add_argument("--full", action="store_true", help="print the whole CloudEvent, not only its data")
    dead = sub.add_parser("dead-letters", help="work with the dead-letter topic")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True)
    replay = dead_sub.add_parser("replay", help="re-publish dead letters to the input topic (after a fix)")
    replay.add_argument("--reason", help="only dead letters with this dlq_reason (e.g. too_large)")
    replay.add_argument("--max", type=int, default=0, help="replay at most this many (0: no limit)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed, publish nothing")
    replay.add_argument(
        "--include-redacted", action="store_true", help="also replay messages whose passwords were stripped"
    )
    replay.add_argument("--idle", type=float, default=5.0, help="give up after this many idle seconds")
    sub.add_parser("config-table", help="print the README's configuration table")
    catalog_cli.register(sub)
    dnc_cli.register(sub)
    imports_cli.register(sub)
    jobs_cli.register(sub)
    parked_cli.register(sub)
    erase_cli.register(sub)
    args = parser.parse_args(argv)

    settings = Settings()
    logs.setup(settings.log_level)
    if args.command in catalog_cli.COMMANDS or args.command == dnc_cli.COMMAND:
        from service.app import prepare_database

        asyncio.run(prepare_database(settings))
        asyncio.run((dnc_cli if args.command == dnc_cli.COMMAND else catalog_cli).run(settings, args))
    elif args.command in imports_cli.COMMANDS:
        if args.command == "file-server":
            from service.app import prepare_database

            asyncio.run(prepare_database(settings))
        return asyncio.run(imports_cli.run(settings, args))
    elif args.command == jobs_cli.COMMAND:
        from service.app import prepare_database

        asyncio.run(prepare_database(settings))
        return asyncio.run(jobs_cli.run(settings, args))
    elif args.command == parked_cli.COMMAND:
        from service.app import prepare_database

        asyncio.run(prepare_database(settings))
        return asyncio.run(parked_cli.run(settings, args))
    elif args.command == erase_cli.COMMAND:
        return asyncio.run(erase_cli.run(settings, args))
    elif args.command == "config-table":
        from service.config import markdown_table

        print(markdown_table())
    elif args.command == "run":
        from service.app import serve

        asyncio.run(serve(settings))
    elif args.command == "dev":
        from service.ops import devstack

        return devstack.run(args.kafka_port)
    elif args.command == "migrate":
        from service.app import prepare_database

        asyncio.run(prepare_database(settings))
    elif args.command == "topics":
        from service.kafka.clients import ensure_topics

        asyncio.run(ensure_topics(settings))
    elif args.command == "produce":
        from service.ops.tools import produce_file

        count = asyncio.run(produce_file(settings, args.file, args.dialect, args.topic))
        print(f"published {count} event(s)", file=sys.stderr)
    elif args.command == "results":
        from service.ops.tools import read_results

        asyncio.run(read_results(settings, args.topic, args.idle, args.max, args.full))
    elif args.command == "dead-letters":
        from service.ops.deadletters import replay as replay_dead_letters

        report = asyncio.run(
            replay_dead_letters(
                settings,
                reason=args.reason,
                limit=args.max,
                dry_run=args.dry_run,
                include_redacted=args.include_redacted,
                idle_s=args.idle,
            )
        )
        print(report.line(args.dry_run), file=sys.stderr)
    return 0


def _entry() -> None:  # pragma: no cover
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
