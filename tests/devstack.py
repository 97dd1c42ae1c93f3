"""``contact-import dev`` as a real child process on its own free ports and its own state folder.

The dev stack's defaults (Kafka on 9092, HTTP on 8080, ``.state`` in the repository) are shared by
everyone on a machine, so a test never uses them: each ``DevStack`` gets free ports and a temporary
state folder, and runs in that folder (nothing is written to the repository).
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import psutil

from service.cli.embedded import free_port
from service.config import Settings
from tests.support import EMBEDDED_BROKER_TIMING


class DevStack:
    def __init__(self) -> None:
        # not under pytest's 0700 temporary root: as root, Postgres runs as its own user and must reach its data
        self.base = Path(tempfile.mkdtemp(prefix="cis-test-dev-"))
        self.base.chmod(0o755)
        self.state = self.base / "state"
        self.kafka_port, self.http_port = free_port(), free_port()
        self.log_path = self.base / "dev.log"  # stderr: the log
        self.out_path = self.base / "dev.out"  # stdout: where everything is
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self._pty: int | None = None
        self._pty_out = bytearray()
        self._code: int | None = None
        self._closing = threading.Event()
        self.seen: list[psutil.Process] = []  # every process of the stack seen running
        self.ready_at = 0.0  # when /readyz last answered 200 (time.monotonic)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIS_")}
        env.update(CIS_STATE_DIR=str(self.state), CIS_HTTP_PORT=str(self.http_port))
        # the embedded broker's timings (infrastructure), as every test sets them (tests/support.py)
        env.update({f"CIS_{name.upper()}": str(value) for name, value in EMBEDDED_BROKER_TIMING.items()})
        return env

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "service", "dev", "--kafka-port", str(self.kafka_port)]

    def start(self) -> DevStack:
        self._code = None
        with self.log_path.open("ab") as err, self.out_path.open("ab") as out:
            self.proc = subprocess.Popen(self.argv(), cwd=self.base, env=self.env(), stdout=out, stderr=err)
        self.pid = self.proc.pid
        return self

    def start_in_terminal(self) -> DevStack:
        """Start it as the only process of a new terminal (a pseudo-terminal it is the session leader of)."""
        self.proc, self._code = None, None
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the dev command at once
            try:
                os.chdir(self.base)
                os.execve(sys.executable, self.argv(), self.env())
            finally:
                os._exit(127)
        self.pid, self._pty = pid, fd
        self._reader = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._reader.start()  # a full terminal would block its writes
        return self

    def _drain(self, fd: int) -> None:
        while not self._closing.is_set():
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._pty_out.extend(chunk)

    def close_terminal(self) -> None:
        """Close the terminal window: the kernel sends SIGHUP to the session, and the terminal is gone."""
        assert self._pty is not None
        self._closing.set()
        self._reader.join(10)  # a read in progress would keep the terminal open
        os.close(self._pty)

    def output(self) -> str:
        return self.stdout() + self.stderr() + self._pty_out.decode(errors="replace")

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        """Every line of its log, each of which must be a JSON object."""
        records = [orjson.loads(line) for line in self.stderr().splitlines() if line.strip()]
        assert all(isinstance(r, dict) for r in records)
        return records

    def dev_env(self) -> dict[str, str]:
        """The settings it wrote for the other commands."""
        lines = (self.state / "dev.env").read_text().splitlines()
        return dict(shlex.split(line)[0].split("=", 1) for line in lines if line and not line.startswith("#"))

    def run_to_end(self) -> subprocess.CompletedProcess[str]:
        """Another dev command on the same ports and state folder, which must end by itself."""
        return subprocess.run(self.argv(), cwd=self.base, env=self.env(), capture_output=True, text=True, timeout=60)

    def cli(self, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
        """Another command, started as a person would: only the state folder tells it where the stack is."""
        env = {k: v for k, v in self.env().items() if k != "CIS_HTTP_PORT"}
        done = subprocess.run(
            [sys.executable, "-m", "service", *args], cwd=self.base, env=env,
            capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    def exited(self) -> int | None:
        """Its exit code once it has ended (negative: the signal that ended it)."""
        if self._code is None:
            if self.proc is not None:
                self._code = self.proc.poll()
            else:
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self._code = os.waitstatus_to_exitcode(status)
        return self._code

    def wait_exit(self, timeout_s: float = 90) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                return code
            time.sleep(0.1)
        raise AssertionError(f"dev command still running after {timeout_s}s:\n{self.output()[-3000:]}")

    def wait_ready(self, timeout_s: float = 180) -> None:
        """Until /readyz answers 200; records the processes of the stack."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise AssertionError(f"dev command exited before it was ready:\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        self.seen.extend(self.processes())
                        self.ready_at = time.monotonic()
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"dev stack not ready after {timeout_s}s:\n{self.output()[-3000:]}")

    def wait_catalog_reload(self) -> None:
        """Until a catalog change made before this call is seen: the service loaded its catalog before it
        was ready and re-reads it once that snapshot is ``catalog_refresh_s`` old (the shipped default)."""
        refresh_s = Settings.model_fields["catalog_refresh_s"].default
        time.sleep(max(0.0, self.ready_at + refresh_s - time.monotonic()))

    def processes(self) -> list[psutil.Process]:
        """The dev command, its children (the broker) and the Postgres server of its state folder."""
        found = [psutil.Process(self.pid)]
        found.extend(found[0].children(recursive=True))
        postmaster = self.state / "pg" / "postmaster.pid"
        if postmaster.exists():
            found.append(psutil.Process(int(postmaster.read_text().split()[0])))
        return found

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def left_running(self) -> list[str]:
        """The processes seen so far that still run (``is_running`` also compares start times)."""
        alive = []
        for p in self.seen:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
            except psutil.NoSuchProcess:
                continue
        return alive

    def cleanup(self) -> None:
        """Stop whatever of this stack still runs (only processes it started), then remove its folder."""
        for p in self.seen:
            try:
                if p.is_running():
                    p.kill()
            except psutil.NoSuchProcess:
                continue
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)
