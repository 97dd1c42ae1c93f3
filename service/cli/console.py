"""What every ``contact-import`` command shares: one-line failures, confirmations, tables or JSON, secrets.

A command fails with :class:`CliError` (one line on stderr, a non-zero exit); it confirms a change with
one line on stdout; it lists as a table for people or, with ``--json``, one JSON object per line for
scripts. Secrets come from stdin, an environment variable or a prompt, never from an argument (shell
history, ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from service.errors import ServiceError


class CliError(ServiceError):
    """An expected failure of a command: its message is the one line the person sees."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def confirm(line: str) -> None:
    """The one line that says a change was made."""
    print(line)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line (for scripts)")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def print_json(values: Any) -> None:
    sys.stdout.write(orjson.dumps(values, default=str).decode() + "\n")
    sys.stdout.flush()


def print_rows(rows: Sequence[dict[str, Any]], columns: Iterable[str], as_json: bool) -> None:
    """Rows as a table (people) or JSON lines (``--json``); columns: the table's, in order."""
    if as_json:
        for row in rows:
            print_json(row)
        return
    names = list(columns)
    table = Table(*names)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in names))
    console = Console()
    if not console.is_terminal:  # piped: one line per row, for grep
        console = Console(width=max(console.width, 240))
    console.print(table)


def print_one(row: dict[str, Any], as_json: bool) -> None:
    """One object: a two-column table of its fields, or one JSON line."""
    if as_json:
        print_json(row)
        return
    print_rows([{"field": k, "value": _cell(v)} for k, v in row.items()], ("field", "value"), False)


def add_secret_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """``--WHAT-stdin`` and ``--WHAT-env NAME``; with neither, a prompt when stdin is a terminal.
    ``--WHAT`` is accepted only to refuse it with a line saying what to use instead."""
    parser.add_argument(f"--{what}-stdin", action="store_true", help=f"read the {what} from stdin (one line)")
    parser.add_argument(f"--{what}-env", metavar="NAME", help=f"read the {what} from environment variable NAME")
    parser.add_argument(f"--{what}", dest=f"{what}_argument", help=argparse.SUPPRESS)


def read_secret(args: argparse.Namespace, what: str) -> str:
    """The secret named by the flags of :func:`add_secret_flags`; :class:`CliError` when there is none."""
    if getattr(args, f"{what}_argument") is not None:
        raise CliError(f"--{what} is not accepted (it ends up in shell history): use --{what}-stdin or --{what}-env", 2)
    from_stdin, env_name = getattr(args, f"{what}_stdin"), getattr(args, f"{what}_env")
    if from_stdin and env_name:
        raise CliError(f"give --{what}-stdin or --{what}-env, not both", 2)
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise CliError(f"environment variable {env_name} is not set", 2)
        return value
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
        if getpass.getpass(f"{what} again: ") != value:
            raise CliError(f"the two {what}s differ")
    else:
        raise CliError(f"no {what}: use --{what}-stdin, --{what}-env NAME, or run in a terminal to be asked", 2)
    if not value:
        raise CliError(f"the {what} is empty")
    return value
