"""Fuzzing the decode → parse path: whatever arrives ends as a dead letter or as coded, located records.

No exception escapes ``envelope.decode`` other than :class:`UndecodableMessage`, and none escapes a
dialect's ``parse``; every rejected record (and every warning) carries a code and a JSON pointer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.catalog import passwords
from service.catalog.model import Campaign, Catalog, User
from service.config import REPO_SCHEMAS, Settings
from service.dialects import default_registry
from service.errors import ErrorDetail, UndecodableMessage
from service.model.contact import ContactRecord
from service.model.envelope import Envelope, decode
from service.model.records import Parsed, Rejected
from service.pipeline.nul import reject_nul as _reject_nul
from service.pipeline.processor import Processor

REGISTRY = default_registry(REPO_SCHEMAS)
NAMES = REGISTRY.names()
TYPES = [*NAMES, "contact-import.importws.v1", "nobody.speaks.this"]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _catalog() -> Catalog:
    catalog = Catalog(tenants={"acme", "t1"})
    catalog.users[("t1", "agent", "8001")] = User("t1", "agent", "8001", passwords.hash_password("pw"))
    catalog.campaigns[("t1", "C1")] = Campaign("t1", "C1", "Campaign 1", fields={"phone1": "Phone"})
    catalog.campaigns[("acme", "12345")] = Campaign("acme", "12345", "Five")
    return catalog


CATALOG = _catalog()
PROCESSORS = [
    Processor(Settings(), REGISTRY),
    Processor(Settings(topic_tenants={"in": ["t1"]}, require_tenant_attribute=True), REGISTRY),
]


@cache
def _field_names() -> list[str]:
    """Every property name the dialects' schemas know, so that fuzzed objects look like real input."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in REPO_SCHEMAS.glob("*.json"):
        walk(orjson.loads(path.read_bytes()))
    return sorted(names)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["acme", "t1", "C1", "12345", "+15551230000", "2026-01-01T09:00:00Z", "\x00", "", "-1"])
)
KEYS = st.sampled_from(_field_names()) | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)


def _check(parsed: list[Parsed]) -> None:
    assert isinstance(parsed, list)
    for p in parsed:
        assert isinstance(p, Parsed)
        assert isinstance(p.record, ContactRecord | Rejected)
        details: list[ErrorDetail] = list(p.warnings)
        if isinstance(p.record, Rejected):
            assert p.record.errors, "a rejected record says why"
            details += p.record.errors
        for d in details:
            assert isinstance(d.code, str) and d.code, d
            assert isinstance(d.path, str) and d.path.startswith("/"), d


def _parse(env: Envelope) -> None:
    parsed = REGISTRY.get(env.dialect).parse(env, CATALOG)
    _check(parsed)
    _check(_reject_nul(env.data, parsed))
    for processor in PROCESSORS:  # the dialect, the tenant rules and the NUL check, per record
        _check(processor._parse(env, CATALOG))


def _decode(value: bytes | None, headers: list[tuple[str, bytes]]) -> Envelope | None:
    try:
        return decode(
            value=value,
            headers=headers,
            topic="in",
            partition=0,
            offset=7,
            timestamp_ms=0,
            key=None,
            max_bytes=1_000_000,
            resolve=REGISTRY.resolve,
            accepts_text=REGISTRY.accepts_text,
        )
    except UndecodableMessage as err:
        assert err.reason and err.message  # a dead letter, with a reason
        return None


HEADER_NAMES = st.sampled_from(["ce_type", "ce_id", "ce_source", "dialect", "event-id", "tenant", "x"])
HEADERS = st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=20) | st.sampled_from(TYPES).map(str.encode)))


@FUZZ
@given(value=st.none() | st.binary(max_size=300), headers=HEADERS)
def test_arbitrary_bytes_and_headers(value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
    env = _decode(value, headers)
    if env is not None:
        _parse(env)


@FUZZ
@given(dialect=st.sampled_from(NAMES), data=JSON, tenant=st.none() | st.sampled_from(["acme", "t1", "x"]))
def test_arbitrary_json_data_for_every_dialect(dialect: str, data: Any, tenant: str | None) -> None:
    _parse(Envelope("e", "s", dialect, data, "in", 0, 0, 0, None, tenant))


@FUZZ
@given(
    kind=st.sampled_from(TYPES),
    data=JSON,
    attrs=st.dictionaries(st.sampled_from(["specversion", "id", "source", "tenant"]), SCALARS, max_size=4),
    drop=st.sets(st.sampled_from(["specversion", "id", "source", "type", "data"]), max_size=1),
)
def test_structured_cloudevents_around_arbitrary_data(
    kind: str, data: Any, attrs: dict[str, Any], drop: set[str]
) -> None:
    event: dict[str, Any] = {"specversion": "1.0", "id": "e-1", "source": "fuzz", "type": kind, "data": data}
    event.update(attrs)
    for name in drop:
        event.pop(name)
    env = _decode(orjson.dumps(event), [])
    if env is not None:
        assert env.dialect in NAMES
        _parse(env)


QUERY_PARTS = st.lists(
    st.tuples(st.sampled_from([*_field_names(), "EVENT", "password", "Context"]), st.text(max_size=20)),
    max_size=25,
)


@FUZZ
@given(
    kind=st.sampled_from(TYPES),
    body=st.binary(max_size=200) | QUERY_PARTS.map(lambda ps: "&".join(f"{k}={v}" for k, v in ps).encode()),
)
def test_binary_mode_with_arbitrary_bodies(kind: str, body: bytes) -> None:
    headers = [("ce_type", kind.encode()), ("ce_id", b"e-1"), ("ce_source", b"fuzz"), ("ce_tenant", b"t1")]
    env = _decode(body, headers)
    if env is not None:
        _parse(env)
