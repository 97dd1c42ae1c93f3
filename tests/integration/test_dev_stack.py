"""``make run`` (``contact-import dev``) cleans up after itself, and recovers from a run that did not.

Real processes on free ports and a temporary state folder (tests/devstack.py); what is left behind is
checked by PID (and start time) against every process of the stack seen running.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator

import orjson
import psutil
import pytest

from service.store import db as store_db
from tests.devstack import DevStack
from tests.jobs import setup_importws
from tests.servers import http_server
from tests.support import ROOT


@pytest.fixture
def dev() -> Iterator[DevStack]:
    stack = DevStack()
    try:
        yield stack
    finally:
        stack.cleanup()


def test_after_kill_9_the_next_run_recovers_and_ctrl_c_leaves_nothing(dev: DevStack) -> None:
    dev.start().wait_ready()
    dev.signal(signal.SIGKILL)  # its broker and Postgres outlive it: nothing could stop them
    assert dev.wait_exit() == -signal.SIGKILL

    dev.start().wait_ready()  # same ports, same state folder: what the first run left is found
    assert "Traceback" not in dev.output()
    assert any(r["event"] == "stopping the embedded broker an earlier run left behind" for r in dev.log_records())
    assert "reused the Postgres an earlier run left running" in dev.stdout()
    dev.signal(signal.SIGINT)
    assert dev.wait_exit() == 0, dev.output()[-3000:]
    assert dev.left_running() == [], dev.output()[-3000:]
    assert not (dev.state / "dev.env").exists()


def test_closing_its_terminal_leaves_nothing_behind(dev: DevStack) -> None:
    dev.start_in_terminal().wait_ready()
    dev.close_terminal()  # SIGHUP, and every later write to the terminal fails
    dev.wait_exit()
    assert dev.left_running() == [], dev.output()[-3000:]

    dev.start().wait_ready()  # and the next run starts as after a clean stop
    dev.signal(signal.SIGHUP)
    assert dev.wait_exit() == 0, dev.output()[-3000:]
    assert dev.left_running() == [], dev.output()[-3000:]


def test_a_port_another_program_holds_is_one_line_not_a_traceback(dev: DevStack) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", dev.kafka_port))
        holder.listen()
        done = dev.run_to_end()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"contact-import dev: port {dev.kafka_port} is taken: stop what runs there or choose another port"
        " (--kafka-port; make run DEV_ARGS='--kafka-port N')"
    )


async def test_it_says_where_everything_is_and_a_local_file_import_runs_end_to_end(dev: DevStack) -> None:
    dev.start().wait_ready()
    summary, env = dev.stdout(), dev.dev_env()
    bootstrap, dsn, http = f"127.0.0.1:{dev.kafka_port}", env["CIS_DATABASE_URL"], f"http://127.0.0.1:{dev.http_port}"
    assert env["CIS_KAFKA_BOOTSTRAP"] == bootstrap and bootstrap in summary
    assert dsn.startswith("postgresql://") and dsn in summary
    assert http in summary
    topics = {"INPUT": "contact-imports", "RESULTS": "contact-import-results", "DEAD_LETTER": "contact-imports-dlq"}
    for name, topic in {**topics, "JOBS": "contact-import-jobs"}.items():
        assert env[f"CIS_{name}_TOPIC"] == topic and topic in summary
    # the HTTP port listens on loopback only; private networks are for the dev service, not other commands
    listening = [c.laddr for c in psutil.Process(dev.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert [a.ip for a in listening if a.port == dev.http_port] == ["127.0.0.1"]
    assert "CIS_IMPORT_ALLOW_PRIVATE_NETWORKS" not in env and "loopback and private addresses allowed" in summary
    assert {"event", "level", "logger", "timestamp"} <= dev.log_records()[0].keys()

    # a second run on the same state folder says so in one line, and leaves the first one alone
    second = dev.run_to_end()
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert second.stderr.startswith("contact-import dev: another `contact-import dev`"), second.stderr
    assert len(second.stderr.strip().splitlines()) == 1 and dev.dev_env() == env and dev.exited() is None

    # the README's local file import: its example files, a file server on loopback, the commands
    conn = await store_db.connect(dsn)
    try:
        await setup_importws(conn)
    finally:
        await conn.close()
    dev.wait_catalog_reload()
    examples = ROOT / "docs" / "examples"
    with http_server(examples) as served:
        event = orjson.loads((examples / "file-import.json").read_bytes())
        assert event["data"]["context"] == "http://127.0.0.1:8000/contacts.csv"
        event["data"]["context"] = served.url("contacts.csv")  # a free port, not the README's 8000
        (dev.base / "file-import.json").write_bytes(orjson.dumps(event))
        dev.cli("produce", "file-import.json")
        lines = dev.cli("results", "--max", "4", "--idle", "60").stdout.splitlines()
    got = {o.get("user_data", ""): o for o in map(orjson.loads, lines)}
    assert sorted((k, o["status"]) for k, o in got.items()) == [
        ("", "ACCEPTED"),
        ("F-2001", "ADDED"),
        ("F-2002", "ADDED"),
        ("F-2003", "ADDED"),
    ]
    # F-2003's number "12" is not dialable: kept and flagged, never queued, a warning naming its row
    assert [(w["code"], w["path"]) for w in got["F-2003"]["warnings"]] == [("phone.invalid", "/rows/4")]
    assert got["F-2003"]["dial_list"] == []
