"""``python -m bench.run``: every measurement, repeated, in one run; Markdown and JSON out.

Starts its own PostgreSQL (pgserver, in a temp folder) and, per measurement, a fresh tansu broker and
database, so nothing on the machine is touched and every run starts empty. Measurements, per run:

- ``bare``: the contact.v1 rows COPYed into a staging table, one ``INSERT … ON CONFLICT`` per 5k;
- ``contact``: the service end to end on contact.v1 events of 100 records;
- ``dialler``: the service end to end on single-record dialler events;
- ``naive``: the naive consumer (bench/naive.py) on contact.v1 events;
- ``latency``: produce → outcome at a fixed offered load;
- ``growth_small``/``growth_large``: contact.v1 at two larger sizes (how the cost grows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, scenarios, workload
from bench.bare import bare_postgres
from bench.infra import Stack
from bench.service_proc import SERVICE_SETTINGS_ENV
from service.cli.embedded import FETCH_MAX_WAIT_MS
from service.runtime import logs

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ("bare", "contact", "dialler", "naive", "latency", "growth_small", "growth_large")
FULL: dict[str, Any] = {
    "contact": 200_000,
    "dialler": 200_000,
    "naive": 20_000,
    "growth": (500_000, 1_000_000),
    "per_event": 100,
    "rate": 2000,
    "latency_s": 20,
    "latency_per_event": 1,
}
QUICK: dict[str, Any] = {**FULL, "contact": 20_000, "dialler": 10_000, "naive": 5_000, "growth": (50_000, 100_000)}
QUICK["latency_s"] = 8


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes and one run (a few minutes)")
    p.add_argument("--runs", type=int, help="repetitions of each measurement (default 3, --quick 1)")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override sizes: contact=N dialler=N naive=N growth=SMALL,LARGE per_event=N rate=N latency_s=S"
        " latency_per_event=N",
    )
    p.add_argument("--only", nargs="+", choices=MEASUREMENTS, help="run only these measurements")
    p.add_argument("--latency-dialect", choices=("contact.v1", "dialler"), default="contact.v1")
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results", help="where the JSON goes")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md", help="the Markdown to update")
    p.add_argument(
        "--profile",
        type=Path,
        help="also profile the service (py-spy) in one more run of each chosen contact, dialler and latency"
        " measurement, into DIR",
    )
    p.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every measurement's time limit")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--service-root",
        type=Path,
        help="run the service from another checkout (its folder holding service/), e.g. a branch's worktree",
    )
    p.add_argument(
        "--service-setting",
        nargs="+",
        default=[],
        metavar="CIS_NAME=VALUE",
        help="run the service with these settings on top of its defaults (recorded in the JSON and the doc)",
    )
    return p.parse_args(argv)


def service_settings(pairs: list[str]) -> dict[str, str]:
    """The service's settings on top of its defaults: the fetch wait ``make run`` sets on the embedded
    broker, then the ``CIS_NAME=VALUE`` pairs asked for (anything else is refused)."""
    out = {"CIS_KAFKA_FETCH_MAX_WAIT_MS": str(FETCH_MAX_WAIT_MS)}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("CIS_"):
            raise SystemExit(f"--service-setting takes CIS_NAME=VALUE, not {pair!r}")
        out[name] = value
    return out


def sizes(args: argparse.Namespace) -> dict[str, Any]:
    out = dict(QUICK if args.quick else FULL)
    for item in args.sizes:
        key, _, value = item.partition("=")
        if key not in out or not value:
            raise SystemExit(f"unknown size {item!r}; known: {', '.join(out)}")
        out[key] = tuple(int(v) for v in value.split(",")) if key == "growth" else int(value)
    if len(out["growth"]) != 2:
        raise SystemExit("growth takes two sizes: growth=SMALL,LARGE")
    return out


class Bench:
    def __init__(self, args: argparse.Namespace, sz: dict[str, Any], stack: Stack) -> None:
        self.args, self.sz, self.stack = args, sz, stack
        self._workloads: dict[tuple[str, int], workload.Workload] = {}
        self._rows: list[tuple[int, str, str, str, str]] | None = None

    def contact(self, records: int) -> workload.Workload:
        key = ("contact", records)
        if key not in self._workloads:
            self._workloads[key] = workload.contact_v1_workload(records, self.sz["per_event"], seed=self.args.seed)
        return self._workloads[key]

    def dialler(self, records: int) -> workload.Workload:
        key = ("dialler", records)
        if key not in self._workloads:
            self._workloads[key] = workload.dialler_workload(records, seed=self.args.seed)
        return self._workloads[key]

    def timeout(self, records: int) -> float:
        return scenarios.deadline(records, self.args.timeout_scale)

    def measurement(self, name: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        sz, st = self.sz, self.stack
        small, large = sz["growth"]
        if name == "bare":
            if self._rows is None:
                self._rows = workload.bare_rows(sz["contact"], seed=self.args.seed)
            rows = self._rows
            return lambda: bare_postgres(st, rows)
        if name == "naive":
            return lambda: scenarios.naive(st, self.contact(sz["naive"]), timeout_s=self.timeout(sz["naive"]))
        if name == "latency":
            return lambda: self.latency()
        records = {"contact": sz["contact"], "dialler": sz["dialler"], "growth_small": small, "growth_large": large}[
            name
        ]
        wl = self.dialler(records) if name == "dialler" else self.contact(records)
        return lambda: scenarios.service_e2e(st, wl, timeout_s=self.timeout(records))

    async def run(self, runs: int, chosen: list[str]) -> dict[str, list[dict[str, Any]]]:
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in chosen}
        for run in range(1, runs + 1):
            for name in chosen:
                t0 = time.monotonic()
                try:
                    result = await self.measurement(name)()
                except Exception as exc:  # one failed measurement is reported, the others still run
                    traceback.print_exc()
                    result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                results[name].append(result)
                _progress(run, name, result, time.monotonic() - t0)
        return results

    def latency(self, profile: Path | None = None) -> Awaitable[dict[str, Any]]:
        sz = self.sz
        return scenarios.latency(
            self.stack,
            rate=sz["rate"],
            seconds=sz["latency_s"],
            per_event=sz["latency_per_event"],
            dialect=self.args.latency_dialect,
            timeout_s=self.timeout(int(sz["rate"] * sz["latency_s"])),
            profile=profile,
        )

    async def profile(self, folder: Path, chosen: list[str]) -> dict[str, Any]:
        """One profiled run of each chosen end-to-end measurement (contact, dialler, latency)."""
        out: dict[str, Any] = {}
        for name in ("contact", "dialler", "latency"):
            if name not in chosen:
                continue
            path = folder / f"{name}.collapsed.txt"
            if name == "latency":
                out[name] = await self.latency(profile=path)
            else:
                wl = self.contact(self.sz["contact"]) if name == "contact" else self.dialler(self.sz["dialler"])
                out[name] = await scenarios.service_e2e(
                    self.stack, wl, timeout_s=self.timeout(wl.records), profile=path
                )
            _progress(0, f"profile {name}", out[name], 0)
        return out


def revision(root: Path) -> str:
    """The service's git revision (read-only git; ``+dirty`` when service/ has local changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "service"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _progress(run: int, name: str, result: dict[str, Any], took: float) -> None:
    if "error" in result:
        line = f"FAILED {result['error']}"
    else:
        line = (
            f"{result['records']:>9,} records {result['seconds']:>8.2f} s {result['rate']:>10,.0f}/s ok={result['ok']}"
        )
        if "latency_ms" in result:
            line += f" latency {result['latency_ms']}"
        if result.get("peak_rss_mib"):
            line += f" rss {result['peak_rss_mib']} MiB"
    print(f"[run {run}] {name:<13} {line} ({took:.0f} s)", file=sys.stderr, flush=True)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sz = sizes(args)
    runs = args.runs or (1 if args.quick else 3)
    chosen = [m for m in MEASUREMENTS if not args.only or m in args.only]
    started = datetime.now(UTC)
    service_root = Path(os.environ.get("BENCH_SERVICE_ROOT") or ROOT)
    rev_start = revision(service_root)
    load_start = round(os.getloadavg()[0], 2)
    stack = Stack()
    stack.start()
    try:
        pg = await stack.server_info()
        bench = Bench(args, sz, stack)
        results = await bench.run(runs, chosen)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        profiles = await bench.profile(args.profile, chosen) if args.profile else None
    finally:
        stack.stop()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    record: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.run", *(shlex.quote(a) for a in args.command_line)]),
        "machine": report.machine(),
        "postgres": pg,
        "service_revision": rev_start
        if rev_start == revision(service_root)
        else f"{rev_start} (changed during the run)",
        "loadavg_start": load_start,
        "loadavg_end": round(os.getloadavg()[0], 2),
        "config": {
            "runs": runs,
            "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in sz.items()},
            "rate": sz["rate"],
            "latency_s": sz["latency_s"],
            "latency_per_event": sz["latency_per_event"],
            "latency_dialect": args.latency_dialect,
            "measurements": chosen,
            "service_root": str(service_root),
            "service_settings": service_settings(args.service_setting),
        },
        "results": results,
        "summary": report.summarize(results),
    }
    if profiles is not None:
        record["profiles"] = profiles
    json_path = args.out_dir.resolve() / f"{stamp}.json"
    record["json_path"] = str(json_path.relative_to(ROOT)) if json_path.is_relative_to(ROOT) else str(json_path)
    report.write_json(json_path, record)
    report.write_doc(args.doc, report.markdown(record))
    print(report.markdown(record))
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    logs.setup("WARNING")  # the migrations' info lines would drown the progress lines
    if args.service_root:
        os.environ["BENCH_SERVICE_ROOT"] = str(args.service_root.resolve())
    os.environ[SERVICE_SETTINGS_ENV] = json.dumps(service_settings(args.service_setting))
    args.command_line = argv if argv is not None else sys.argv[1:]
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
