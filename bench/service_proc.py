"""``python -m service run`` as a child process: readiness, memory, metrics, optional py-spy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.infra import child_env
from service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICE_SETTINGS_ENV = "BENCH_SERVICE_SETTINGS"


def service_root() -> Path:
    """Where ``python -m service`` is started: this checkout, or BENCH_SERVICE_ROOT (another checkout,
    e.g. a branch's worktree, to compare its service against the same harness)."""
    return Path(os.environ.get("BENCH_SERVICE_ROOT") or ROOT)


def service_settings() -> dict[str, str]:
    """The ``CIS_*`` settings ``bench.run --service-setting`` asked for (JSON in BENCH_SERVICE_SETTINGS)."""
    raw = os.environ.get(SERVICE_SETTINGS_ENV)
    return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}


def _proc_kib(pid: int, field: str) -> int | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM); None where /proc is not there."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None


class ServiceProcess:
    def __init__(self, settings: Settings, folder: Path, **env: str) -> None:
        self.settings = settings
        self.log_path = folder / "service.log"
        self._env = {**child_env(settings), **service_settings(), **env}
        self._folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self._spy: subprocess.Popen[bytes] | None = None
        self._sampled_kib = 0
        self._sampling = False
        self._sampler: threading.Thread | None = None
        self.hwm_kib: int | None = None

    def start(self) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "run"],
                cwd=service_root(),
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while self._sampling and self.proc is not None and self.proc.poll() is None:
            rss = _proc_kib(self.proc.pid, "VmRSS") or 0
            self._sampled_kib = max(self._sampled_kib, rss)
            hwm = _proc_kib(self.proc.pid, "VmHWM")
            if hwm is not None:
                self.hwm_kib = hwm
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_log(self, pattern: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m.group(0)
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"service exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{pattern!r} not logged within {timeout_s}s:\n{self.log()[-3000:]}")

    async def ready(self, timeout_s: float = 60) -> None:
        await self.wait_log(r'"partitions assigned"', timeout_s)

    def peak_rss_mib(self) -> float | None:
        """The peak resident set: the kernel's high-water mark when known, else the sampled maximum."""
        if self.proc is not None and self.proc.poll() is None:
            hwm = _proc_kib(self.proc.pid, "VmHWM")
            if hwm is not None:
                self.hwm_kib = hwm
        kib = self.hwm_kib or self._sampled_kib
        return round(kib / 1024, 1) if kib else None

    async def metrics(self) -> dict[str, float]:
        """The service's own counters (batch and transaction time), read from /metrics."""
        line = await self.wait_log(r'"port":(\d+),"event":"http endpoint listening"', 10)
        port = int(re.findall(r"\d+", line)[0])

        def fetch() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                body: bytes = resp.read()
                return body.decode()

        text = await asyncio.to_thread(fetch)
        wanted = (
            "contact_import_messages_consumed_total",
            "contact_import_batch_duration_seconds_sum",
            "contact_import_batch_duration_seconds_count",
            "contact_import_db_transaction_duration_seconds_sum",
        )
        out: dict[str, float] = {}
        for row in text.splitlines():
            name, _, value = row.partition(" ")
            if name in wanted:
                out[name] = float(value)
        return out

    def attach_profiler(self, output: Path, rate: int = 100) -> bool:
        """Sample the service with py-spy (when installed) until it exits; collapsed stacks in ``output``."""
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if spy is None or self.proc is None:
            return False
        self._spy = subprocess.Popen(
            [spy, "record", "--pid", str(self.proc.pid), "--rate", str(rate), "--format", "raw", "-o", str(output)],
            stdout=(self._folder / "py-spy.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(0.5)
        return self._spy.poll() is None

    def stop(self, timeout_s: float = 60) -> int | None:
        """SIGTERM (drains the outbox), then kill if it does not exit in time."""
        self._sampling = False
        if self.proc is None:
            return None
        self.peak_rss_mib()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(30)
        if self._spy is not None:
            try:
                self._spy.wait(30)
            except subprocess.TimeoutExpired:
                self._spy.kill()
                self._spy.wait(10)
        return code
