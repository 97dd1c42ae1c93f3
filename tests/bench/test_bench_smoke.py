"""The benchmark harness on tiny sizes, so that ``make bench`` cannot rot: every record accounted for.

No timing is asserted: this machine's speed is not the test's business (docs/performance.md is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import report, statements
from bench.run import main

TINY = ["contact=1000", "dialler=200", "naive=200", "per_event=100", "rate=100", "latency_s=2", "latency_per_event=1"]


@pytest.mark.slow
def test_harness_runs_and_accounts_for_every_record(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    only = ["bare", "contact", "dialler", "naive", "latency"]  # growth is the contact path at other sizes
    record = main(["--runs", "1", "--sizes", *TINY, "--only", *only, "--out-dir", str(tmp_path), "--doc", str(doc)])

    [written] = tmp_path.glob("*.json")
    assert orjson.loads(written.read_bytes())["summary"] == record["summary"]
    results: dict[str, list[dict[str, Any]]] = record["results"]
    assert sorted(results) == sorted(only)
    for name, runs in results.items():
        [run] = runs
        assert "error" not in run, (name, run)
        assert run["ok"], (name, run)
        assert run["rate"] > 0 and run["seconds"] > 0

    # the bare loader takes the same rows, unvalidated: the service's customers plus the invalid ones
    assert results["bare"][0]["stored"] == results["contact"][0]["stored_customers"] + 1000 // 100
    for name, records in (("contact", 1000), ("dialler", 200), ("latency", 200)):
        run = results[name][0]
        assert run["outcomes"] == records == sum(run["statuses"].values())
        assert run["statuses"]["FAILED"] == run["expected"]["FAILED"] == records // 100
        assert run["statuses"]["ADDED"] == run["expected"]["ADDED"] == run["stored_customers"]
        assert run["dead_letters"] == 0 and run["service_exit"] == 0
        assert run["peak_rss_mib"] > 20
    assert results["naive"][0]["outcomes"] == 200
    lat = results["latency"][0]["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]

    text = doc.read_text()
    assert report.BEGIN in text and report.END in text
    assert "| service e2e, contact.v1, 100 records per event | 1,000 |" in text
    assert str(written.name) in text


def test_summary_ratios_and_doc_block(tmp_path: Path) -> None:
    def run(records: int, seconds: float, **extra: Any) -> dict[str, Any]:
        return {"records": records, "seconds": seconds, "rate": records / seconds, "ok": True, **extra}

    lat = {"p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 40.0}
    results = {
        "bare": [run(100, 1), run(100, 2), run(100, 1)],
        "contact": [run(100, 2, peak_rss_mib=100.0)],
        "naive": [run(100, 50)],
        "latency": [run(10, 1, latency_ms=lat, service_latency_ms=lat, peak_rss_mib=300.0)],
        "growth_small": [run(500, 10)],
        "growth_large": [run(1000, 21), {"error": "TimeoutError"}],
    }
    summary = report.summarize(results)
    assert summary["rows"]["bare"]["median_rate"] == 100
    assert not summary["rows"]["growth_large"]["all_accounted"]
    targets = {t["name"]: t for t in summary["targets"]}
    assert targets["e2e / bare Postgres (contact.v1)"]["value"] == 0.5
    assert targets["e2e / bare Postgres (contact.v1)"]["pass"]
    assert targets["e2e / naive (contact.v1)"]["value"] == 25
    assert targets["latency p99 at the offered load, ms"]["pass"]
    assert targets["service peak RSS, MiB (worst run)"] == {
        **targets["service peak RSS, MiB (worst run)"],
        "value": 300.0,
        "pass": False,
    }
    assert targets["time(large) / time(small) (growth)"]["value"] == 2.1

    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nhand-written intro\n\n" + report.BEGIN + "\nold\n" + report.END + "\n\nfindings\n")
    report.write_doc(doc, "new table")
    assert (
        doc.read_text()
        == f"# Performance\n\nhand-written intro\n\n{report.BEGIN}\nnew table\n{report.END}\n\nfindings\n"
    )


@pytest.mark.slow
async def test_statement_timing_runs_every_statement_of_the_transaction_and_the_relay_round() -> None:
    out = await statements.measure(records=300, chunk=100)
    calls: dict[str, int] = out["calls"]
    per_chunk = {name: n for name, n in calls.items() if n == 3}  # once per transaction of 100 contacts
    for expected in (
        "INSERT INTO customers",
        "INSERT INTO campaign_records",
        "INSERT INTO dial_list",
        "INSERT INTO outbox",
        "INSERT INTO processed_events",
        "SELECT seq, topic, msg_key,",
        "UPDATE outbox SET published_at",
    ):
        assert any(name.startswith(expected) for name in per_chunk), (expected, calls)
    assert out["prepare_us"] > 0 and out["transaction_us"] > 0 and out["sql_us"] > 0
