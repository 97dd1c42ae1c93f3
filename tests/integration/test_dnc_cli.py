"""``contact-import dnc`` as an operator runs it (a subprocess) against the test Postgres, and the
running service (real broker and Postgres) honouring the numbers it loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg
import orjson

from service.catalog import store as catalog_store
from service.config import Settings
from tests.support import ServiceProcess, contacts_event, outcomes, produce, run_cli

LONDON, LONDON_2, SYDNEY, NEW_YORK = "+442079460001", "+442079460002", "+61291234567", "+12125550100"


async def _dialled(conn: asyncpg.Connection) -> set[tuple[str, str]]:
    return {(r["tenant"], r["phone"]) for r in await conn.fetch("SELECT tenant, phone FROM dial_list")}


async def test_dnc_lists_loaded_by_cli_suppress_imports(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    dsn = settings.database_url.get_secret_value()
    for tenant in ("acme", "beta"):
        await catalog_store.add_tenant(conn, tenant)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    await produce(
        settings,
        [
            contacts_event("acme", [{"user_data": "A", "phones": [{"number": LONDON}, {"number": SYDNEY}]}]),
            contacts_event("beta", [{"user_data": "B", "phones": [{"number": LONDON}, {"number": NEW_YORK}]}]),
        ],
    )
    assert {o["status"] for o in await outcomes(settings, expect=2)} == {"ADDED"}
    assert await _dialled(conn) == {("acme", LONDON), ("acme", SYDNEY), ("beta", LONDON), ("beta", NEW_YORK)}

    run_cli(dsn, "dnc", "add-list", "complaints", "--tenant", "acme")
    run_cli(dsn, "dnc", "add-list", "national", "--description", "national register")
    missing = run_cli(dsn, "dnc", "load", "nope", str(tmp_path / "none.csv"), ok=False)
    assert missing.returncode != 0 and "no do-not-call list 'nope'" in missing.stderr

    # national and international forms, an expiry, a bad number and a bad expiry (reported, skipped)
    tenant_file = tmp_path / "complaints.csv"
    tenant_file.write_text(
        "number,expires_at\n020 7946 0001\n+61 2 9123 4567,2999-01-01\n12345\n+442079460002,soon\n\n+44 20 7946 0001,\n"
    )
    done = run_cli(dsn, "dnc", "load", "complaints", str(tenant_file), "--tenant", "acme", "--region", "GB")
    assert done.stderr.splitlines() == [
        "line 4: not a valid phone number, skipped",
        "line 5: expiry is not an ISO 8601 date (e.g. 2027-01-01), skipped",
        "loaded 2 number(s), skipped 2, 2 dial-list entries removed",
    ]
    rows = await conn.fetch("SELECT tenant, list, phone, expires_at FROM dnc_numbers ORDER BY phone")
    assert [(r["tenant"], r["list"], r["phone"]) for r in rows] == [
        ("acme", "complaints", LONDON),
        ("acme", "complaints", SYDNEY),
    ]
    assert rows[0]["expires_at"] is None and rows[1]["expires_at"].year == 2999
    assert await _dialled(conn) == {("beta", LONDON), ("beta", NEW_YORK)}  # only the tenant's dial list

    global_file = tmp_path / "national.csv"
    global_file.write_text(f"(212) 555-0100\n{LONDON},2999-06-30T12:00:00+00:00\n")
    done = run_cli(dsn, "dnc", "load", "national", str(global_file), "--region", "US")
    assert done.stderr.strip() == "loaded 2 number(s), skipped 0, 2 dial-list entries removed"
    assert await _dialled(conn) == set()  # a global list reaches every tenant's dial list

    table = run_cli(dsn, "dnc", "show").stdout  # for people: the lists and how many numbers each holds
    assert "national register" in table and "complaints" in table and "(global)" in table
    shown = [orjson.loads(line) for line in run_cli(dsn, "dnc", "show", "--json").stdout.splitlines()]
    assert shown == [
        {"tenant": None, "list": "national", "description": "national register", "numbers": [
            {"phone": NEW_YORK, "expires_at": None},
            {"phone": LONDON, "expires_at": "2999-06-30T12:00:00+00:00"},
        ]},
        {"tenant": "acme", "list": "complaints", "description": None, "numbers": [
            {"phone": LONDON, "expires_at": None},
            {"phone": SYDNEY, "expires_at": "2999-01-01T00:00:00+00:00"},
        ]},
    ]  # fmt: skip

    done = run_cli(dsn, "dnc", "remove", "complaints", "02 9123 4567", "999", "--tenant", "acme", "--region", "AU")
    assert done.stderr.splitlines() == ["'999': not a valid phone number, skipped", "removed 1 number(s)"]
    assert await conn.fetchval("SELECT count(*) FROM dnc_numbers WHERE tenant = 'acme'") == 1

    # the running service: numbers the CLI loaded suppress, the number it removed is dialled again
    await produce(
        settings,
        [
            contacts_event("acme", [{"user_data": "C", "phones": [{"number": NEW_YORK}]}], event_id="c"),
            contacts_event("acme", [{"user_data": "D", "phones": [{"number": SYDNEY}]}], event_id="d"),
            contacts_event("acme", [{"user_data": "E", "phones": [{"number": LONDON}]}], event_id="e"),
            contacts_event("beta", [{"user_data": "F", "phones": [{"number": LONDON_2}]}], event_id="f"),
        ],
        key=b"acme",
    )
    got = {o["event_id"]: o for o in await outcomes(settings, expect=6) if o["event_id"] in "cdef"}
    assert got["c"]["status"] == "SUPPRESSED" and got["c"]["dial_list"] == []
    assert got["c"]["details"]["suppressed"] == [{"phone": NEW_YORK, "list": "national", "tenant": None}]
    assert got["d"]["status"] == "ADDED" and [e["phone"] for e in got["d"]["dial_list"]] == [SYDNEY]
    assert got["e"]["status"] == "SUPPRESSED"
    assert sorted(got["e"]["details"]["suppressed"], key=lambda h: h["list"]) == [
        {"phone": LONDON, "list": "complaints", "tenant": "acme"},
        {"phone": LONDON, "list": "national", "tenant": None},
    ]
    assert got["f"]["status"] == "ADDED"  # the skipped line's number was never loaded
    assert await _dialled(conn) == {("acme", SYDNEY), ("beta", LONDON_2)}
