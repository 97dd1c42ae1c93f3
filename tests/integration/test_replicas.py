"""Two, then three replicas (real processes) and a file import on the same contacts give exactly the
outcomes and rows one replica gives: one ADDED per contact, a version per change, the last record's
data, every record merged (tests/replicas.py describes the workload and the check)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg

from service.config import Settings
from tests.jobs import job_settings, setup_importws
from tests.replicas import Ledger, check, make_wave, publish, wait_done, wait_spread
from tests.servers import http_server, write_csv
from tests.support import ServiceProcess

KEYS = 800  # distinct UserData per wave: about a hundred clashes per run without the locks (docs/scaling.md)


async def test_two_then_three_replicas_and_a_file_import_give_the_outcomes_and_rows_of_one(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    # six partitions, so that three replicas each hold two; the file applied in small steps, so that
    # its rows interleave with the consumers' batches
    s = job_settings(settings.model_copy(update={"topic_partitions": 6}), import_rows_per_tx=20)
    await setup_importws(conn)
    ledger = Ledger()
    first = make_wave(ledger, 1, [f"U{i}" for i in range(KEYS)], repeated=0.2, in_file=0.25, seed=1)
    # the second wave: half of it known contacts (updates), half new ones
    second_keys = [f"U{i}" for i in range(KEYS // 2, KEYS + KEYS // 2)]
    second = make_wave(ledger, 2, second_keys, repeated=0.2, in_file=0.25, seed=2)
    write_csv(tmp_path / "first.csv", first.rows)
    write_csv(tmp_path / "second.csv", second.rows)

    with http_server(tmp_path) as web:
        replicas = [spawn(s, "a"), spawn(s, "b")]
        await wait_spread(replicas, 6)
        await publish(s, ledger, first, web.url("first.csv"), "imp-1")
        replicas.append(spawn(s, "c"))  # it starts while the two take the first wave
        await wait_done(conn, ledger)

        await wait_spread(replicas, 6)
        await publish(s, ledger, second, web.url("second.csv"), "imp-2")
        await wait_done(conn, ledger)

    report = await check(conn, ledger, s.results_topic)
    assert report.ok, report.summary()
    assert report.distinct == KEYS + KEYS // 2
