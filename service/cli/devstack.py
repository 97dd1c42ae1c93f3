"""``contact-import dev`` (``make run``): the service on an embedded broker and Postgres.

What the environment does not configure is started under the state folder (``CIS_STATE_DIR``):
a tansu broker on ``--kafka-port`` and a pgserver PostgreSQL in ``<state>/pg``. Where everything is
goes to stdout and to ``<state>/dev.env``, which the other commands read; it is removed on exit.

The stack cleans up after itself: SIGINT, SIGTERM and SIGHUP (a closed terminal) stop the service,
then the broker and Postgres. A run that could not (kill -9) left PID files behind; the next run
finds them, stops the broker it left and reuses its Postgres. One run per state folder: a lock
held while it runs (released by the kernel however it ends) tells a live run from a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import IO, Any

from pydantic import SecretStr

from service.cli.embedded import EMBEDDED_TOPICS, FETCH_MAX_WAIT_MS, Broker, Database, StackError
from service.config import Settings

DEFAULT_KAFKA_PORT = 9092
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
SERVICE_ONLY = {"http_host", "import_allow_private_networks"}  # set for the dev service, not for other commands


class _Stopped(Exception):
    """SIGTERM or SIGHUP while the stack starts."""


class DevStack:
    """The embedded parts one dev run started, and what the service is told about them."""

    def __init__(self, settings: Settings, kafka_port: int) -> None:
        self.settings = settings
        self.state = settings.state_dir.resolve()
        self.kafka_port = kafka_port
        self.broker: Broker | None = None
        self.database: Database | None = None
        self.overrides: dict[str, Any] = {}
        self.notes: list[str] = []
        self._lock: IO[str] | None = None

    @property
    def env_file(self) -> Path:
        return self.state / "dev.env"

    def start(self) -> Settings:
        """Start what is missing; the settings the service runs with."""
        self.state.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.state)
        env = os.environ
        host = env.get("CIS_HTTP_HOST", "127.0.0.1")  # the dev stack is for this machine only
        _check_free(host, self.settings.http_port, "CIS_HTTP_PORT")
        self.overrides["http_host"] = host
        if "CIS_IMPORT_ALLOW_PRIVATE_NETWORKS" not in env:  # a local file server for file imports
            self.overrides["import_allow_private_networks"] = True
        if "CIS_KAFKA_BOOTSTRAP" not in env:
            self._start_broker()
        if "CIS_DATABASE_URL" not in env:
            self._start_database()
        if "CIS_IMPORT_SECRET_KEY" not in env:
            from service.sealing import dev_key

            self.overrides["import_secret_key"] = SecretStr(dev_key(self.state))
        settings = self.settings.model_copy(update=self.overrides)
        self._write_env(settings)
        return settings

    def _start_broker(self) -> None:
        self.broker = Broker(self.kafka_port, self.state / "broker.log", pid_file=self.state / "broker.pid")
        try:
            self.broker.start()
        except StackError as exc:
            raise StackError(f"{exc} (--kafka-port; make run DEV_ARGS='--kafka-port N')") from None
        # one node: no replicas to spread a topic over (docs/kafka.md)
        self.overrides.update(
            kafka_bootstrap=self.broker.bootstrap,
            kafka_idempotent_producer=False,
            **EMBEDDED_TOPICS,
        )
        if "CIS_KAFKA_FETCH_MAX_WAIT_MS" not in os.environ:
            self.overrides["kafka_fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
        if self.broker.stale_pid:
            self.notes.append(f"stopped the broker an earlier run left running (pid {self.broker.stale_pid})")

    def _start_database(self) -> None:
        self.database = Database(self.state / "pg")
        try:  # exclusive: the lock says no other run uses this folder, so every handle left is stale
            self.overrides["database_url"] = SecretStr(self.database.start(exclusive=True))
        except subprocess.SubprocessError:
            raise StackError(f"the embedded Postgres did not start: see {self.state / 'pg' / 'log'}") from None
        if self.database.reused_pid:
            self.notes.append(f"reused the Postgres an earlier run left running (pid {self.database.reused_pid})")

    def stop(self) -> None:
        """Stop what this run started (also after a failed start); signals wait until it is done."""
        for sig in (signal.SIGINT, *STOP_SIGNALS):
            signal.signal(sig, signal.SIG_IGN)
        if self._lock is None:  # another run owns the state folder: nothing here is ours
            return
        self.env_file.unlink(missing_ok=True)
        if self.broker is not None:
            self.broker.stop()
        if self.database is not None:
            self.database.stop()
        self._lock.close()

    def _write_env(self, settings: Settings) -> None:
        names = ["input_topic", "results_topic", "dead_letter_topic", "jobs_topic", *self.overrides]
        lines = [
            "# where `contact-import dev` runs everything; the other commands read this file while it runs",
            f"# HTTP: {http_url(settings)}",
        ]
        for name in dict.fromkeys(names):
            if name in SERVICE_ONLY:
                continue
            value = getattr(settings, name)
            value = value.get_secret_value() if isinstance(value, SecretStr) else value
            text = str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"CIS_{name.upper()}={shlex.quote(text)}")
        self.env_file.write_text("\n".join(lines) + "\n")
        self.env_file.chmod(0o600)  # holds the development secret key

    def summary(self, settings: Settings) -> str:
        embedded = "embedded tansu, topics in memory only" if self.broker else "CIS_KAFKA_BOOTSTRAP"
        stored = f"embedded, data in {self.state / 'pg'}" if self.database else "CIS_DATABASE_URL"
        private = "allowed" if settings.import_allow_private_networks else "refused"
        scope = "this stack only" if "import_allow_private_networks" in self.overrides else "as set"
        rows = [
            ("Kafka bootstrap", f"{settings.kafka_bootstrap}  ({embedded})"),
            ("Postgres DSN", f"{settings.database_url.get_secret_value()}  ({stored})"),
            ("HTTP", f"{http_url(settings)}  (/metrics /healthz /readyz)"),
            ("input topic", settings.input_topic),
            ("results topic", settings.results_topic),
            ("dead letters", settings.dead_letter_topic),
            ("job events", settings.jobs_topic),
            ("file imports", f"loopback and private addresses {private} ({scope})"),
            ("other commands", f"read these from {self.env_file} while this runs"),
            *(("note", note) for note in self.notes),
        ]
        return "contact-import dev\n" + "".join(f"  {k:<16} {v}\n" for k, v in rows)


def http_url(settings: Settings) -> str:
    host = settings.http_host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.http_port}"


def _lock(state: Path) -> IO[str]:
    handle = (state / "dev.lock").open("a+")  # not inherited by the broker (PEP 446)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise StackError(
            f"another `contact-import dev` (pid {owner}) runs on {state}: stop it, or give this one"
            " its own CIS_STATE_DIR, --kafka-port and CIS_HTTP_PORT"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _check_free(host: str, port: int, setting: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StackError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another {setting}") from None


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signal.Signals(signum).name)


def run(kafka_port: int) -> int:
    """The dev command; its exit status."""
    from service.app import serve

    stack = DevStack(Settings(_env_file=None), kafka_port)  # not the dev.env an earlier run left
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # under nohup a closed terminal stops nothing
            signal.signal(sig, _raise_stopped)
    try:
        try:
            settings = stack.start()
        except StackError as exc:
            print(f"contact-import dev: {exc}", file=sys.stderr)
            return 1
        except (_Stopped, KeyboardInterrupt):
            return 0
        with contextlib.suppress(OSError):  # a terminal closed while the stack started
            sys.stdout.write(stack.summary(settings))
            sys.stdout.flush()
        asyncio.run(serve(settings))  # until SIGINT, SIGTERM or SIGHUP
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        stack.stop()
    return 0
