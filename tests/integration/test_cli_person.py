"""The installed ``contact-import`` driven as a person drives it: every command's help, ``--version``,
a round trip through the catalog nouns (``<noun> list|show|add|remove``), ``results`` on the
dead-letter topic, and each expected failure as one line on stderr and a non-zero exit status."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import socket
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from service.cli.main import parser
from service.config import Settings
from tests.support import ROOT, ServiceProcess, read_topic, settings_env

CLI = Path(sys.executable).parent / "contact-import"


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], cwd=ROOT, env={**os.environ, **env}, input=stdin, capture_output=True, text=True, timeout=60
    )


def ok(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = _run(env, *args, stdin=stdin)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def refused(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """The one line a failing command prints; it must exit non-zero with nothing else on stderr."""
    done = _run(env, *args, stdin=stdin)
    assert done.returncode != 0, (args, done.stdout)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, (args, done.stderr)
    return done.stderr


def _commands(p: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the parser, as argument lists."""
    found: list[tuple[str, ...]] = [prefix]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*prefix, name))
    return found


def test_every_command_has_help_and_the_cli_a_version() -> None:
    commands = _commands(parser())
    assert ("user", "add") in commands and ("tenant", "remove") in commands and ("results",) in commands
    for command in commands:
        assert "usage: contact-import" in ok({}, *command, "--help")
    assert ok({}, "--version").startswith("contact-import ")
    assert "--password-stdin" in ok({}, "user", "add", "--help")
    assert "never its contacts" in ok({}, "campaign", "remove", "--help")


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines()]


def test_a_round_trip_through_the_catalog(dsn: str) -> None:
    env = {"CIS_DATABASE_URL": dsn}
    assert ok(env, "migrate") == "database migrated\n"
    assert ok(env, "dnc", "add-list", "complaints", "--tenant", "acme") == "do-not-call list complaints (acme) added\n"
    assert ok(env, "tenant", "add", "acme", "--name", "ACME", "--timezone", "Europe/Warsaw") == "tenant acme added\n"
    assert "acme" in ok(env, "tenant", "list") and "ACME" in ok(env, "tenant", "list")
    (listed,) = _json_lines(ok(env, "tenant", "list", "--json"))
    assert listed["tenant"] == "acme" and listed["timezone"] == "Europe/Warsaw" and listed["campaigns"] == 0
    assert orjson.loads(ok(env, "tenant", "show", "acme", "--json"))["name"] == "ACME"
    assert "Europe/Warsaw" in ok(env, "tenant", "show", "acme")

    assert ok(env, "user", "add", "acme", "api", "--password-stdin", stdin="s3cret\n") == (
        "user acme/api (account) added\n"
    )
    ok(env | {"AGENT_PW": "agent-pw"}, "user", "add", "acme", "8001", "--type", "agent", "--password-env", "AGENT_PW")
    users = _json_lines(ok(env, "user", "list", "--json", "--tenant", "acme"))
    assert [(u["usertype"], u["login"]) for u in users] == [("account", "api"), ("agent", "8001")]
    assert "s3cret" not in ok(env, "user", "show", "acme", "api") + ok(env, "catalog", "show", "--json")

    assert ok(env, "campaign", "add", "acme", "C1", "--name", "Spring", "--region", "DE") == "campaign acme/C1 added\n"
    assert "Spring" in ok(env, "campaign", "list")
    (campaign,) = _json_lines(ok(env, "campaign", "list", "--json", "--tenant", "acme"))
    assert campaign["region"] == "DE" and campaign["match_on"] == "user_data"
    assert orjson.loads(ok(env, "campaign", "show", "acme", "C1", "--json"))["name"] == "Spring"

    assert ok(env, "status", "add", "acme", "C1", "8", "--name", "Mine", "--system", "my_record") == (
        "status acme/C1/8 added\n"
    )
    assert "MY_RECORD" in ok(env, "status", "list", "acme", "C1")
    assert _json_lines(ok(env, "status", "list", "acme", "C1", "--json"))[0]["name"] == "Mine"
    assert ok(env, "status", "remove", "acme", "C1", "8") == "status acme/C1/8 removed\n"
    assert ok(env, "status", "list", "acme", "C1", "--json") == ""

    assert "1 campaigns, 2 users" in refused(env, "tenant", "remove", "acme")  # says what blocks it
    assert ok(env, "campaign", "remove", "acme", "C1") == "campaign acme/C1 removed\n"
    assert ok(env, "user", "remove", "acme", "api") == "user acme/api (account) removed\n"
    assert ok(env, "tenant", "remove", "acme", "--force") == "tenant acme removed with 1 users\n"
    assert ok(env, "tenant", "list", "--json") == ""
    assert orjson.loads(ok(env, "catalog", "show", "--json"))["tenants"] == []


def _read(fd: int) -> bytes:
    """What the terminal shows next; a command that shows nothing for a minute has hung."""
    assert select.select([fd], [], [], 60)[0], "the command shows nothing"
    return os.read(fd, 1024)


def _in_a_terminal(env: dict[str, str], args: tuple[str, ...], answers: list[str]) -> tuple[int, str]:
    """Run the command on a pseudo-terminal of its own (its controlling terminal, as in a shell), typing
    each answer after the prompt before it; its exit status and everything it showed."""
    main_fd, sub_fd = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [str(CLI), *args], cwd=ROOT, env={**os.environ, **env}, stdin=sub_fd, stdout=sub_fd, stderr=sub_fd,
        preexec_fn=own_terminal,
    )  # fmt: skip
    os.close(sub_fd)
    shown = b""
    for i, answer in enumerate(answers, 1):
        while shown.count(b"password") < i:  # its i-th prompt
            shown += _read(main_fd)
        os.write(main_fd, answer.encode() + b"\n")
    with contextlib.suppress(OSError):  # EIO once the command has exited
        while chunk := _read(main_fd):
            shown += chunk
    os.close(main_fd)
    return proc.wait(timeout=60), shown.decode()


def test_a_password_is_asked_for_twice_in_a_terminal(dsn: str) -> None:
    env = {"CIS_DATABASE_URL": dsn}
    ok(env, "tenant", "add", "acme")
    code, shown = _in_a_terminal(env, ("user", "add", "acme", "api"), ["typed-pw", "typed-pw"])
    assert code == 0 and "user acme/api (account) added" in shown and "typed-pw" not in shown, shown
    code, shown = _in_a_terminal(env, ("user", "add", "acme", "ops"), ["one", "another"])
    assert code == 1 and "the two passwords differ" in shown, shown
    assert [u["login"] for u in _json_lines(ok(env, "user", "list", "--json"))] == ["api"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_each_failure_is_one_clear_line(dsn: str) -> None:
    env = {"CIS_DATABASE_URL": dsn}
    assert "no tenant 'nobody'" in refused(env, "campaign", "add", "nobody", "C1")
    ok(env, "tenant", "add", "acme")
    assert "unknown region 'XX'" in refused(env, "campaign", "add", "acme", "C1", "--region", "XX")
    assert "unknown time zone" in refused(env, "tenant", "add", "acme", "--timezone", "Mars/Base")
    assert "--password-stdin" in refused(env, "user", "add", "acme", "api", "--password", "s3cret")
    assert "--password-stdin" in refused(env, "user", "add", "acme", "api", stdin="s3cret\n")  # no flag, no terminal
    assert "NO_SUCH_VARIABLE" in refused(env, "user", "add", "acme", "api", "--password-env", "NO_SUCH_VARIABLE")
    assert "no tenant 'nobody'" in refused(env, "tenant", "remove", "nobody")
    assert "no user acme/api (account)" in refused(env, "user", "remove", "acme", "api")
    assert "no campaign 'C9' of tenant 'acme'" in refused(env, "campaign", "remove", "acme", "C9")
    assert "no campaign 'C9'" in refused(env, "status", "add", "acme", "C9", "1", "--name", "x")
    ok(env, "campaign", "add", "acme", "C1")
    assert "no status acme/C1/1" in refused(env, "status", "remove", "acme", "C1", "1")
    assert "s3cret" not in refused(env, "user", "add", "acme", "api", "--password", "s3cret")
    closed = dsn.rsplit("@", 1)[0] + f"@127.0.0.1:{_closed_port()}/nowhere"
    for command in (("tenant", "list"), ("catalog", "show"), ("jobs", "list")):
        assert "database" in refused({"CIS_DATABASE_URL": closed}, *command)
    assert "No such file" in refused(env, "produce", "/nonexistent/events.json")
    no_broker = {"CIS_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}"}
    assert "broker" in refused(no_broker, "results", "--idle", "1")
    assert "broker" in refused(no_broker, "produce", str(ROOT / "docs" / "examples" / "contacts.json"))


async def test_results_prints_the_quick_starts_dead_letter(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    env = settings_env(settings)
    examples = ROOT / "docs" / "examples" / "contacts.json"
    assert ok(env, "topics").startswith("topics ready: ")
    ok(env, "produce", str(examples))  # the quick start: its last line is not an event
    spawn(settings).wait_log("partitions assigned")
    await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=1)
    (printed,) = _json_lines(ok(env, "results", "--topic", settings.dead_letter_topic, "--idle", "1"))
    assert printed["value"] == orjson.loads(examples.read_text())[-1]  # not JSON: printed as the text it is
    assert printed["headers"]["dlq_reason"] == "not_json" and printed["topic"] == settings.dead_letter_topic
    outcomes = _json_lines(ok(env, "results", "--max", "3", "--idle", "5"))
    assert sorted(o["status"] for o in outcomes) == ["ADDED", "ADDED", "FAILED"]
    assert "no topic 'no-such-topic'" in refused(env, "results", "--topic", "no-such-topic", "--idle", "1")
