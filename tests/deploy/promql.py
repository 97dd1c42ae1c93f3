"""Just enough PromQL reading to list the metric names, labels and functions an expression uses,
and the series the service's registry exposes (``service.runtime.metrics.REGISTRY``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client.metrics import MetricWrapperBase

import service.runtime.metrics
from service.runtime.metrics import REGISTRY

# Labels Prometheus adds to every scraped series (target labels), in compose and Kubernetes.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "service", "endpoint"})
# Series Prometheus makes itself for every target.
BUILTIN_SERIES = {"up": frozenset[str](), "scrape_duration_seconds": frozenset[str]()}

FUNCTIONS = frozenset(
    """
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year
    days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
    histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join
    label_replace ln log2 log10 minute month predict_linear rate resets round scalar sgn sort sort_desc sqrt
    time timestamp vector year avg_over_time min_over_time max_over_time sum_over_time count_over_time
    quantile_over_time stddev_over_time stdvar_over_time last_over_time present_over_time
    acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi
    sum min max avg group stddev stdvar count count_values bottomk topk quantile
    """.split()  # noqa: SIM905
)
KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right"}
)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", re.IGNORECASE)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_NUMBER = re.compile(r"(?<![a-zA-Z0-9_:.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|[a-zA-Z_][a-zA-Z0-9_]*)")


@dataclass
class Parsed:
    metrics: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    grouping_labels: set[str] = field(default_factory=set)
    # (metric or "" for a bare selector, label) pairs from {…} matchers
    matcher_labels: set[tuple[str, str]] = field(default_factory=set)


def parse(expr: str) -> Parsed:
    out = Parsed()
    text = _STRING.sub('""', expr)
    for metric, body in _SELECTOR.findall(text):
        for label in _MATCHER.findall(body):
            out.matcher_labels.add((metric, label))
    text = _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    for _kw, labels in _GROUPING.findall(text):
        out.grouping_labels.update(x.strip() for x in labels.split(",") if x.strip())
    text = _GROUPING.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    text = _NUMBER.sub(" ", text)
    for name, call in _IDENT.findall(text):
        if call:
            out.functions.add(name)
        elif name.lower() not in KEYWORDS:
            out.metrics.add(name)
    return out


def _series_names(family: str, kind: str) -> list[str]:
    if kind == "counter":
        return [f"{family}_total", f"{family}_created"]
    if kind == "histogram":
        return [f"{family}_bucket", f"{family}_count", f"{family}_sum", f"{family}_created"]
    if kind == "summary":
        return [family, f"{family}_count", f"{family}_sum", f"{family}_created"]
    if kind == "info":
        return [f"{family}_info"]
    return [family]


def exposed_series() -> dict[str, frozenset[str]]:
    """Every series name the service exposes on /metrics, with the labels it may carry."""
    labels_of: dict[str, frozenset[str]] = {}
    for obj in vars(service.runtime.metrics).values():
        if isinstance(obj, MetricWrapperBase):
            names = frozenset(getattr(obj, "_labelnames", ()))
            for family in obj.describe():
                labels_of[family.name] = names
    series: dict[str, frozenset[str]] = dict(BUILTIN_SERIES)
    for family in REGISTRY.collect():
        labels = labels_of.get(family.name, frozenset())
        for name in _series_names(family.name, family.type):
            series[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return series


def problems(expr: str, series: dict[str, frozenset[str]], extra_labels: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with ``expr``: unknown metrics, functions or labels (empty when nothing is)."""
    parsed = parse(expr)
    found: list[str] = []
    unknown_functions = parsed.functions - FUNCTIONS - {"label_values", "query_result"}
    found += [f"unknown function {f}()" for f in sorted(unknown_functions)]
    unknown_metrics = parsed.metrics - series.keys()
    found += [f"metric {m} is not exposed by service.runtime.metrics" for m in sorted(unknown_metrics)]
    allowed = set(TARGET_LABELS | extra_labels | {"__name__"})
    for metric in parsed.metrics & series.keys():
        allowed |= series[metric]
    for metric, label in sorted(parsed.matcher_labels):
        if metric in series:
            if label not in series[metric] | TARGET_LABELS | extra_labels | {"__name__"}:
                found.append(f"{metric} has no label {label!r}")
        elif not metric and label not in allowed:
            found.append(f"no metric in the expression has label {label!r}")
    found += [f"grouping by unknown label {x!r}" for x in sorted(parsed.grouping_labels - allowed)]
    return found
