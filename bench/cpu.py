"""CPU seconds spent by the processes of a measurement (service, Postgres backends, broker, harness).

Read from /proc/<pid>/stat (utime + stime); where /proc is missing every figure is None. Set against
the wall-clock time this says who was busy: a service near 1.0 CPU-second per second is limited by
its own (single-threaded) Python, not by Postgres.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()  # fields after the command name (which may hold spaces)


def cpu_seconds(pid: int) -> float | None:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK if fields else None


def children(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == parent:
                out.append(int(entry.name))
    return out


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster and its children (backends, writer, WAL writer, checkpointer …)."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    return [postmaster, *children(postmaster)]


def broker_pids(bootstrap: str) -> list[int]:
    """The tansu broker listening on ``bootstrap`` (found by its ``--listener-url``)."""
    needle = f"tcp://{bootstrap}".encode()
    out = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


class CpuMeter:
    """CPU seconds per group of processes between ``start()`` and ``stop()``; new processes count whole."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for name, pids in self._groups.items():
            out[name] = {}
            for pid in pids():
                value = cpu_seconds(pid)
                if value is not None:
                    out[name][pid] = value
        return out

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, float | None]:
        after = self._read()
        result: dict[str, float | None] = {}
        for name, now in after.items():
            before = self._before.get(name, {})
            result[name] = round(sum(v - before.get(pid, 0.0) for pid, v in now.items()), 2) if now else None
        return result
