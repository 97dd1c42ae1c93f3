"""Alert rules: promtool accepts them, their unit tests pass, every alert is tested firing and silent,
and they only use metrics the service exposes. The scrape config matches the rules and compose."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import generate_latest

from service.model.job import FINAL_STATES
from service.runtime.metrics import JOB_STATES, REGISTRY
from tests.deploy import promql
from tests.deploy.common import DEPLOY, REPO, load_yaml, require_tool, run_tool

PROM = DEPLOY / "prometheus"
PROMTOOL_HINT = "run `make tools` (installs Debian's prometheus package, which provides promtool)"
JOB = "contact-import"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool", PROMTOOL_HINT)


def _rules() -> list[dict[str, Any]]:
    doc = load_yaml(PROM / "alerts.yml")
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def test_promtool_check_rules(promtool: str) -> None:
    result = run_tool([promtool, "check", "rules", "alerts.yml"], cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass(promtool: str) -> None:
    result = run_tool([promtool, "test", "rules", "alerts_test.yml"], cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_config(promtool: str) -> None:
    result = run_tool([promtool, "check", "config", "prometheus.yml"], cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_required_alerts_exist() -> None:
    exprs = {name: rule["expr"] for name, rule in _alerts().items()}
    needed = {
        "consumer lag": "contact_import_consumer_lag_messages",
        "dead letters": "contact_import_dead_letters_total",
        "FAILED ratio": 'status="FAILED"',
        "database errors": "contact_import_db_errors_total",
        "service down": "up{",
        "outbox relay": "contact_import_publish_errors_total",
        "parked outbox messages": "contact_import_outbox_parked_messages",
        "backlog not draining": "offset 15m",
        "failed file-import jobs": 'contact_import_jobs_total{state="failed"}',
    }
    for what, needle in needed.items():
        assert any(needle in expr for expr in exprs.values()), f"no alert covers {what} ({needle})"


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases: dict[str, dict[str, int]] = {name: {"firing": 0, "silent": 0} for name in _alerts()}
    doc = load_yaml(PROM / "alerts_test.yml")
    assert doc["rule_files"] == ["alerts.yml"]
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            name = case["alertname"]
            assert name in cases, f"alerts_test.yml tests {name}, which alerts.yml does not define"
            cases[name]["firing" if case.get("exp_alerts") else "silent"] += 1
    untested = {name: counts for name, counts in cases.items() if not counts["firing"] or not counts["silent"]}
    assert not untested, f"alerts without a firing and a not-firing test case: {untested}"


def test_alerts_are_well_formed() -> None:
    for name, rule in _alerts().items():
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        assert rule.get("annotations", {}).get("summary"), f"{name} has no summary"
        assert rule.get("annotations", {}).get("description"), f"{name} has no description"
        assert "for" in rule, f"{name} fires on a single evaluation; give it a 'for' duration"


def test_rules_only_use_exposed_metrics() -> None:
    series = promql.exposed_series()
    for rule in _rules():
        name = rule.get("alert") or rule.get("record")
        found = promql.problems(rule["expr"], series)
        assert not found, f"{name}: {found}"
        if "up{" in rule["expr"]:
            assert f'job="{JOB}"' in rule["expr"], f"{name} must select job={JOB}"


def test_scrape_config_matches_the_rules_and_compose() -> None:
    config = load_yaml(PROM / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert JOB in jobs, "the alert rules select job=contact-import: the scrape job must carry that name"
    job = jobs[JOB]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    compose = load_yaml(DEPLOY / "compose.yaml")
    port = compose["services"]["contact-import"]["environment"].get("CIS_HTTP_PORT", "8080")
    assert targets == [f"contact-import:{port}"], "scrape the compose service on its CIS_HTTP_PORT"


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alert_has_a_runbook_section() -> None:
    runbooks = REPO / "docs" / "runbooks.md"
    text = runbooks.read_text(encoding="utf-8")
    anchors = _anchors(text)
    for name, rule in _alerts().items():
        annotations = rule["annotations"]
        assert "runbook" not in annotations, f"{name}: the annotation is runbook_url"
        url = annotations.get("runbook_url", "")
        assert url == f"docs/runbooks.md#{name.lower()}", f"{name}: runbook_url {url!r}"
        assert name.lower() in anchors, f"docs/runbooks.md has no section {name}"
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("What it means", "How to confirm", "How to fix"):
            assert f"**{part}.**" in section, f"the {name} runbook has no {part!r}"


def test_job_state_series_exist_at_zero_from_start() -> None:
    """increase() over a series that appears with its first job would miss that job."""
    assert set(JOB_STATES) <= {s.value for s in FINAL_STATES}
    exposed = generate_latest(REGISTRY).decode()
    for state in JOB_STATES:
        assert re.search(rf'^contact_import_jobs_total{{state="{state}"}} ', exposed, re.MULTILINE), state
    used = {m for rule in _rules() for m in re.findall(r'contact_import_jobs_total\{state="(\w+)"\}', rule["expr"])}
    assert used and used <= set(JOB_STATES), f"alerts use job states the service does not export: {used}"
