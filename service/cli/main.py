"""``contact-import``: run the service, the embedded dev stack, and the round-trip tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError

from service.cli import catalog as catalog_cli
from service.cli import dnc as dnc_cli
from service.cli import erase as erase_cli
from service.cli import jobs as jobs_cli
from service.cli import parked as parked_cli
from service.cli import servers as imports_cli
from service.cli.console import CliError
from service.config import Settings
from service.errors import TransientError
from service.runtime import logs

# The commands with a module of their own: each has register(sub), COMMAND or COMMANDS, and
# run(settings, args) -> exit status (None: 0); it runs on a migrated database.
MODULES: list[Any] = [catalog_cli, dnc_cli, imports_cli, jobs_cli, parked_cli, erase_cli]
NO_DATABASE = {"secret-key", erase_cli.COMMAND}  # contact erase only publishes an event
SERVICES = {"run", "dev"}


def _version() -> str:
    try:
        return version("contact-import-service")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    """Every command: ``contact-import <noun> <verb> …`` (``run``, ``dev``, ``migrate`` and the tools alone)."""
    parser = argparse.ArgumentParser(prog="contact-import", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    results = sub.add_parser("results", help="print the messages of one of the service's topics as JSON lines")
    results.add_argument(
        "--topic",
        help="topic (default: the results topic); the jobs topic prints its events, the dead-letter topic each"
        " message with its headers and its value (as text when it is not JSON)",
    )
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
    for module in MODULES:
        module.register(sub)
    return parser


def _module(command: str) -> Any:
    for module in MODULES:
        if command in getattr(module, "COMMANDS", {getattr(module, "COMMAND", None)}):
            return module
    return None


def _fail(line: str, code: int = 1) -> int:
    print(f"contact-import: {line}", file=sys.stderr)
    return code


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{exc} ({cause})" if cause is not None and str(cause) else str(exc)


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected failure is one line on stderr and a non-zero exit status."""
    args = parser().parse_args(argv)
    if args.command in SERVICES:
        return _dispatch(args)  # the service reports through its logs; a crash keeps its traceback
    failures: list[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[Any], int]]] = [
        (CliError, lambda e: _fail(str(e), e.code)),
        (ValidationError, lambda e: _fail(f"configuration: {_settings_problem(e)}", 2)),
        (TransientError, lambda e: _fail(_cause(e))),
        ((ConnectionError, asyncpg.InterfaceError), lambda e: _fail(f"cannot connect: {e}")),
        (OSError, lambda e: _fail(str(e))),  # e.g. a file to produce that is not there
        (asyncpg.PostgresError, lambda e: _fail(f"database: {e}")),
    ]
    try:
        return _dispatch(args)
    except Exception as exc:
        for kinds, handle in failures:
            if isinstance(exc, kinds):
                return handle(exc)
        if type(exc).__module__.startswith("aiokafka"):
            return _fail(f"broker: {exc}")
        raise


def _settings_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"CIS_{where.upper()}: {first.get('msg', 'invalid')}"


def _dispatch(args: argparse.Namespace) -> int:
    settings = Settings()
    logs.setup(settings.log_level)
    if args.command not in SERVICES:  # a command's failure is its one line, not the client's log too
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    module = _module(args.command)
    if module is not None:
        if args.command not in NO_DATABASE:
            from service.app import prepare_database

            asyncio.run(prepare_database(settings, attempts=1))  # a person is waiting: fail at once
        return asyncio.run(module.run(settings, args)) or 0
    if args.command == "config-table":
        from service.config import markdown_table

        print(markdown_table())
    elif args.command == "run":
        from service.app import serve

        asyncio.run(serve(settings))
    elif args.command == "dev":
        from service.cli import devstack

        return devstack.run(args.kafka_port)
    elif args.command == "migrate":
        from service.app import prepare_database

        asyncio.run(prepare_database(settings))  # waits for Postgres to come up
        print("database migrated")
    elif args.command == "topics":
        from service.kafka.clients import ensure_topics

        asyncio.run(ensure_topics(settings))
        wanted = (settings.input_topic, settings.results_topic, settings.dead_letter_topic, settings.jobs_topic)
        print(f"topics ready: {', '.join(wanted)}")
    elif args.command == "produce":
        from service.cli.tools import produce_file

        count = asyncio.run(produce_file(settings, args.file, args.dialect, args.topic))
        print(f"published {count} event(s)", file=sys.stderr)
    elif args.command == "results":
        from service.cli.tools import read_results

        asyncio.run(read_results(settings, args.topic, args.idle, args.max, args.full))
    elif args.command == "dead-letters":
        from service.cli.deadletters import replay as replay_dead_letters

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
