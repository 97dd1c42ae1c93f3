"""Scale-out at 100k records: ``.venv/bin/python -m bench.replicas [--keys N] [--label L]``.

The workload and check of tests/integration/test_replicas.py (tests/replicas.py) at full size, on a
fresh embedded broker and Postgres: two replicas and a file import take the first wave, a third
replica joins, and the three and a second file import take the second. With the default 32,000
keys per wave that is about 100,000 records (events keyed by event id, 20 % of the UserData two or
three times, a quarter of each wave's keys in its import file). Prints ADDED against distinct keys,
the keys reported ADDED twice, the keys whose versions are not 1..n and the rows that are not their
last record's, with the wall time; writes them to bench/results/replicas-<label>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.infra import Stack
from service.store import db as store_db
from tests.jobs import job_settings, setup_importws
from tests.replicas import Ledger, Report, check, make_wave, publish, wait_done, wait_spread
from tests.servers import http_server, write_csv
from tests.support import ServiceProcess

RESULTS = Path(__file__).resolve().parent / "results"
RETRIED = {  # what the replicas log when a transaction is rolled back and tried again
    "batches_retried": '"batch failed on a transient error, retrying"',
    "import_steps_retried": '"import step clashed with another transaction; retrying"',
    "deadlocks": "DeadlockDetectedError",
}


@contextlib.contextmanager
def _replicas() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        for p in started:
            with contextlib.suppress(Exception):
                p.terminate(30)
            p.kill()


async def run(keys: int) -> tuple[Report, float, dict[str, int]]:
    stack = Stack()
    stack.start()
    try:
        async with stack.session("replicas") as session:
            base = session.settings(topic_partitions=6)
            # file imports from the loopback HTTP server; every other setting is the service's default
            s = job_settings(base, import_rows_per_tx=1000, import_progress_every=10_000, import_lease_s=30.0)
            conn = await store_db.connect(session.dsn)
            folder = Path(tempfile.mkdtemp(prefix="replicas-", dir=session.dir))
            try:
                await setup_importws(conn)
                ledger = Ledger()
                first = make_wave(ledger, 1, [f"U{i}" for i in range(keys)], 0.2, 0.25, seed=1)
                second = make_wave(ledger, 2, [f"U{i}" for i in range(keys // 2, keys + keys // 2)], 0.2, 0.25, 2)
                write_csv(folder / "first.csv", first.rows)
                write_csv(folder / "second.csv", second.rows)
                t0 = time.monotonic()
                with http_server(folder) as web, _replicas() as replicas:
                    replicas += [ServiceProcess(s, folder / f"{n}.log").start() for n in "ab"]
                    await wait_spread(replicas, 6)
                    await publish(s, ledger, first, web.url("first.csv"), "imp-1")
                    replicas.append(ServiceProcess(s, folder / "c.log").start())
                    await wait_done(conn, ledger, timeout_s=1800)
                    await wait_spread(replicas, 6)
                    await publish(s, ledger, second, web.url("second.csv"), "imp-2")
                    await wait_done(conn, ledger, timeout_s=1800)
                    logs = [r.log() for r in replicas]
                elapsed = time.monotonic() - t0
                retried = {name: sum(log.count(line) for log in logs) for name, line in RETRIED.items()}
                return await check(conn, ledger, s.results_topic), elapsed, retried
            finally:
                await conn.close()
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=32_000, help="distinct UserData in each wave")
    parser.add_argument("--label", default="run", help="names the results file")
    args = parser.parse_args()
    report, elapsed, retried = asyncio.run(run(args.keys))
    out = {
        "records": report.records,
        "distinct_keys": report.distinct,
        "outcomes": report.outcomes,
        "statuses": report.statuses,
        "keys_added_twice": report.added_twice,
        "keys_with_wrong_versions": len(report.wrong_versions),
        "rows_not_their_last_record": len(report.wrong_rows),
        "import_jobs_not_completed": report.jobs_failed,
        **retried,
        "seconds": round(elapsed, 1),
        "ok": report.ok,
    }
    print(json.dumps(out, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"replicas-{args.label}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
