"""The Grafana dashboard: valid JSON, well-formed panels, and PromQL that only uses metrics and labels
the service exposes (service.runtime.metrics.REGISTRY). The compose provisioning loads it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy import promql
from tests.deploy.common import DEPLOY, load_yaml

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "contact-import.json"
# The dashboard schema Grafana 12.2 and later (13.x too) save dashboards at (DASHBOARD_SCHEMA_VERSION in
# Grafana's sources): a dashboard below it is migrated on every load, one above it is not understood.
SCHEMA_VERSION = 42
FIRST_GRAFANA_AT_SCHEMA = (12, 2)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(where, expression, legend format) for every PromQL query of the dashboard."""
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target.get('refId')}", target["expr"], target.get("legendFormat", "")
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_]\w*)\)", query.strip())
            assert match, f"variable {var['name']}: only label_values(<series>, <label>) queries are used"
            yield f"variable {var['name']}", match.group(1), ""


def test_dashboard_is_well_formed(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "contact-import"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    panels = list(_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
            assert panel["datasource"]["type"] == "prometheus"
            for target in panel["targets"]:
                assert target["expr"].strip(), f"empty query in {panel['title']!r}"


def test_every_query_uses_only_exposed_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    series = promql.exposed_series()
    used: set[str] = set()
    bad: dict[str, list[str]] = {}
    for where, expr, legend in _queries(dashboard):
        found = promql.problems(expr, series)
        parsed = promql.parse(expr)
        used |= parsed.metrics
        labels = set(promql.TARGET_LABELS) | parsed.grouping_labels
        for metric in parsed.metrics & series.keys():
            labels |= series[metric]
        found += [
            f"legend uses label {x!r} the query does not have"
            for x in re.findall(r"{{\s*(\w+)\s*}}", legend)
            if x not in labels
        ]
        if found:
            bad[where] = found
    assert not bad, f"queries referring to what the service does not expose: {bad}"
    assert used, "the dashboard has no metric queries"


def test_dashboard_covers_the_operating_signals(dashboard: dict[str, Any]) -> None:
    exprs = [expr for _, expr, _ in _queries(dashboard)]

    def uses(needle: str) -> bool:
        return any(needle in expr for expr in exprs)

    assert uses("rate(contact_import_records_total"), "throughput"
    assert any("by (dialect, status)" in e or "by (status, dialect)" in e for e in exprs), "outcomes by status/dialect"
    assert any("contact_import_consumer_lag_messages" in e and "partition" in e for e in exprs), "lag per partition"
    for histogram in ("contact_import_batch_duration_seconds", "contact_import_db_transaction_duration_seconds"):
        assert uses(f"histogram_quantile(0.99, sum by (le) (rate({histogram}_bucket"), f"{histogram} percentiles"
    assert uses("contact_import_dead_letters_total"), "dead letters"
    assert uses("contact_import_outbox_pending_messages"), "outbox pending"
    assert uses("contact_import_outbox_published_total"), "outbox published"
    assert uses('contact_import_jobs_total{job="$job", instance=~"$instance", state="failed"}'), "failed jobs"
    assert uses("sum by (state) (increase(contact_import_jobs_total"), "jobs by state"


def test_every_exported_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = {m for _, expr, _ in _queries(dashboard) for m in promql.parse(expr).metrics}
    families = {name.removesuffix("_bucket") for name in used}
    exported = {
        name
        for name in promql.exposed_series()
        if name not in promql.BUILTIN_SERIES and not name.endswith(("_created", "_sum", "_count"))
    }
    missing = {name.removesuffix("_bucket") for name in exported} - families
    assert not missing, f"metrics of service/runtime/metrics.py no panel shows: {sorted(missing)}"


def _field_configs(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in _panels(dashboard["panels"]):
        config = panel.get("fieldConfig", {})
        yield config.get("defaults", {})
        for override in config.get("overrides", []):
            yield from ({p["id"]: p["value"]} for p in override.get("properties", []) if p["id"] == "custom.hideFrom")


def test_dashboard_is_at_the_schema_of_the_grafana_it_runs_on(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    image = load_yaml(DEPLOY / "compose.yaml")["services"]["grafana"]["image"]
    match = re.fullmatch(r"grafana/grafana:(\d+)\.(\d+)\.(\d+)", image)
    assert match, f"pin a Grafana release: {image}"
    assert (int(match.group(1)), int(match.group(2))) >= FIRST_GRAFANA_AT_SCHEMA, f"{image} predates schema 42"
    # what the migrations up to 42 change holds already: Grafana loads the dashboard as it is written
    assert isinstance(dashboard["refresh"], str), "v40: refresh is a string"
    assert "time_options" not in dashboard.get("timepicker", {}), "v41: no timepicker.time_options"
    for config in _field_configs(dashboard):
        hide = config.get("custom.hideFrom") or config.get("custom", {}).get("hideFrom", {})
        assert not hide.get("viz") or hide.get("tooltip"), "v42: hidden from the graph is hidden from the tooltip"


def test_compose_provisions_the_dashboard_and_datasource() -> None:
    compose = load_yaml(DEPLOY / "compose.yaml")["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in compose["volumes"] if v.startswith("./"))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboard_target = mounts["./grafana/contact-import.json"]

    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "contact-import.yaml")["providers"]
    assert any(dashboard_target.startswith(p["options"]["path"].rstrip("/") + "/") for p in providers), (
        "the dashboard provider's path must be the folder the dashboard is mounted in"
    )
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")["datasources"]
    prometheus = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus and prometheus[0]["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ds_var = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert ds_var and ds_var[0]["current"]["value"] == prometheus[0]["uid"], "default data source = provisioned uid"
