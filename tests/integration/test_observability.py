"""Observability end to end: promtool on a real scrape, a real Prometheus scraping the service,
and no personal data in the logs whatever the dialect."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.cli.embedded import free_port, wait_port
from service.config import Settings
from tests.integration.test_operations import http_get
from tests.support import ServiceProcess, cloudevent, outcomes, produce

PASSWORD = "Pa55-word-XYZ"
WRONG_PASSWORD = "Wrong-Pa55-ABC"
PII = [
    "Zyxwv Qutsr",
    "+4930123456789",
    "zyx.secret@example.org",
    "DE89370400440532013000",
    "Qwerty Uiop",
    "+4930987654321",
    PASSWORD,
    WRONG_PASSWORD,
    "Mnbvc Lkjhg",
    "+4930111222333",
    "GB33BUKB20201555555555",
    "mnb.private@example.org",
    "4930444555666",
    "Asdfg Hjkl",
    "no-at-sign-Poiuy",
]


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: `make tools` installs Debian's prometheus package"
    return path


async def _catalog(conn: asyncpg.Connection) -> None:
    await catalog.add_tenant(conn, "acme")
    await catalog.add_user(conn, "acme", "account", "api", PASSWORD)
    await catalog.add_campaign(conn, Campaign("acme", "C1", "Spring", fields={"phone1": "Phone", "Name": "Name"}))
    await catalog.add_campaign(conn, Campaign("acme", "538", "Dialler camp"))
    await catalog.add_campaign(conn, Campaign("acme", "camp1", "iSales camp"))
    await catalog.add_campaign(conn, Campaign("acme", "00001", "Thulium camp"))
    await catalog.add_status(conn, "acme", "00001", "3", "New", None)


def _importws(password: str, user_data: str) -> dict[str, Any]:
    params = dict.fromkeys(["source_user", "source_pwd", "exetime", "delrow", "priority_field", "dialtime_field"], "")
    params.update(
        orgidentity="acme",
        usertype="account",
        user="api",
        pwdtype="plaintext",
        password=password,
        modeltype="Campaign",
        model_id="C1",
        source="data",
        phone_field="phone1",
        emptyagent="no",
        resetstatus="no",
        dupway="update",
        dupdiallist="ignoreDuplicate",
        changepackage="skip",
        context=f"UserData={user_data}||Name=Qwerty Uiop||phone1=+4930987654321",
    )
    return cloudevent(params, dialect="importws")


def _tenant(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "tenant": "acme"}


EVENTS_AFTER_CONTACTS = [
    _importws(PASSWORD, "IW1"),
    _importws(WRONG_PASSWORD, "IW2"),
    _tenant(
        cloudevent(
            {
                "DiallerCampaignsID": 538,
                "UserData": "D1",
                "Name": "Mnbvc Lkjhg",
                "PhoneNumber1": "+4930111222333",
                "AccountIBAN": "GB33BUKB20201555555555",
                "Email": "mnb.private@example.org",
            },
            dialect="dialler",
        )
    ),
    _tenant(
        cloudevent(
            {
                "vdnId": 1,
                "campaignId": "camp1",
                "rows": [{"sessionId": "S1", "called": [{"calledNo": "4930444555666"}], "callData": "Asdfg Hjkl"}],
            },
            dialect="isales",
        )
    ),
    _tenant(cloudevent({"id": "00001", "records": [{"customer_id": "T1", "status_id": "3"}]}, dialect="thulium")),
]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], int]]:
    """Start a real Prometheus on loopback scraping the given port every second; yields its port."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> int:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n  - job_name: contact-import\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        procs.append(
            subprocess.Popen(
                [
                    _tool("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / "prometheus.log").open("wb"),
            )
        )
        wait_port("127.0.0.1", port, 30)
        return port

    yield start
    for p in procs:
        p.terminate()
        p.wait(30)


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = orjson.loads(resp.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def _wait_value(port: int, promql: str, expected: float, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(_query, port, promql)
        if seen and float(seen[0]["value"][1]) == expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{promql} never became {expected}: {seen}")


async def test_every_dialect_observed_by_prometheus_and_no_personal_data_logged(
    settings: Settings,
    spawn: Callable[..., ServiceProcess],
    conn: asyncpg.Connection,
    prometheus: Callable[[int], int],
    tmp_path: Path,
) -> None:
    await _catalog(conn)
    svc = spawn(settings)
    port = svc.http_port()
    svc.wait_log("partitions assigned")
    prom = prometheus(port)
    contacts = cloudevent(
        {
            "tenant": "acme",
            "campaign": "C1",
            "contacts": [
                {
                    "user_data": "T1",
                    "name": "Zyxwv Qutsr",
                    "email": "zyx.secret@example.org",
                    "phones": [{"number": "+4930123456789"}],
                    "attributes": {"iban": "DE89370400440532013000"},
                },
                {"user_data": "V2", "phones": [{"number": "+4930123456789"}]},
                {"user_data": "BAD", "email": "no-at-sign-Poiuy", "phones": [{"number": "+4930123456789"}]},
            ],
        }
    )
    await produce(settings, [contacts], key=b"acme")
    await outcomes(settings, expect=3)
    await produce(settings, [*EVENTS_AFTER_CONTACTS, b"undecodable +4930123456789"], key=b"acme")
    got = await outcomes(settings, expect=8)
    statuses = sorted((o["dialect"], o["status"]) for o in got)
    assert statuses == sorted(
        [
            ("contact.v1", "ADDED"),
            ("contact.v1", "ADDED"),
            ("contact.v1", "FAILED"),
            ("importws", "ADDED"),
            ("importws", "FAILED"),
            ("dialler", "ADDED"),
            ("isales", "ADDED"),
            ("thulium", "ADDED"),
        ]
    )

    # promtool lints a real scrape
    _, scrape = await http_get(port, "/metrics")
    lint = await asyncio.to_thread(
        subprocess.run, [_tool("promtool"), "check", "metrics"], input=scrape.encode(), capture_output=True
    )
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint

    # a real Prometheus sees the counters the events imply
    await _wait_value(prom, "sum(contact_import_records_total)", 8)
    await _wait_value(prom, 'sum(contact_import_records_total{status="FAILED"})', 2)
    await _wait_value(prom, 'sum(contact_import_records_total{dialect="importws"})', 2)
    await _wait_value(prom, "sum(contact_import_dead_letters_total)", 1)
    await _wait_value(prom, 'up{job="contact-import"}', 1)

    # the failures were logged, by event id and codes, and no personal data anywhere
    svc.terminate()
    log = svc.log()
    assert '"record failed"' in log and "auth.failed" in log
    leaked = [value for value in PII if value in log]
    assert not leaked, f"personal data in the logs: {leaked}"
