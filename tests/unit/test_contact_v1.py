"""The contact.v1 adapter: valid records become canonical, invalid ones carry codes and JSON pointers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.catalog.model import Catalog
from service.config import REPO_SCHEMAS
from service.dialects.contact_v1 import ContactV1
from service.model.contact import ContactRecord, WriteMode
from service.model.envelope import Envelope
from service.model.records import Rejected

ADAPTER = ContactV1(REPO_SCHEMAS)


def _env(data: Any) -> Envelope:
    return Envelope("e", "s", "contact.v1", data, "in", 0, 0, 0, None)


def _data(*contacts: Any, **extra: Any) -> dict[str, Any]:
    return {"tenant": "acme", "campaign": "c1", "contacts": list(contacts), **extra}


def test_valid_record_maps_to_the_canonical_model() -> None:
    parsed = ADAPTER.parse(
        _env(
            _data(
                {
                    "user_data": "U1",
                    "name": "Ada",
                    "phones": [{"number": "+4420", "priority": 2, "dial_at": "2026-01-01T09:00:00Z"}],
                    "window_begin": "2026-01-01 08:00",
                    "attributes": {"tier": "gold", "score": 3},
                },
                policy={"mode": "replace", "dry_run": True},
            )
        ),
        Catalog(),
    )
    rec = parsed[0].record
    assert isinstance(rec, ContactRecord)
    assert rec.tenant == "acme" and rec.campaign == "c1" and rec.contact.user_data == "U1"
    assert rec.policy.mode is WriteMode.REPLACE and rec.policy.dry_run
    assert rec.contact.phones[0].priority == 2 and rec.contact.window_begin is not None


@pytest.mark.parametrize(
    ("contact", "code", "path"),
    [
        ({"user_data": "", "phones": [{"number": "+1555"}]}, "schema.too_short", "/contacts/1/user_data"),
        ({"user_data": "U", "phones": [{"number": "abc"}]}, "schema.bad_format", "/contacts/1/phones/0/number"),
        ({"user_data": "U", "colour": "red"}, "schema.unknown_field", "/contacts/1/colour"),
        ({"user_data": "U" * 129}, "schema.too_long", "/contacts/1/user_data"),
        ({"user_data": "U", "priority": -1}, "schema.out_of_range", "/contacts/1/priority"),
        ({"user_data": "U", "next_call_at": "2026-13-45T99:00:00Z"}, "model.datetime_from_date_parsing", None),
        ("not an object", "schema.wrong_type", "/contacts/1"),
    ],
)
def test_invalid_record_fails_alone_with_code_and_path(contact: Any, code: str, path: str | None) -> None:
    parsed = ADAPTER.parse(_env(_data({"user_data": "ok"}, contact)), Catalog())
    assert isinstance(parsed[0].record, ContactRecord)
    bad = parsed[1].record
    assert isinstance(bad, Rejected)
    assert bad.errors[0].code == code
    if path is not None:
        assert bad.errors[0].path == path
    else:
        assert bad.errors[0].path.startswith("/contacts/1/")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"campaign": "c", "contacts": [{"user_data": "a"}]}, "/tenant"),
        ({"tenant": "t", "campaign": "c", "contacts": []}, "/contacts"),
        ({"tenant": "t", "campaign": "c"}, "/contacts"),
        ({"tenant": "t", "campaign": "c", "contacts": [{"user_data": "a"}], "policy": {"mode": "x"}}, "/policy/mode"),
        ("a string", "/"),
    ],
)
def test_event_level_errors_fail_every_record(data: Any, path: str) -> None:
    parsed = ADAPTER.parse(_env(data), Catalog())
    assert parsed and all(isinstance(p.record, Rejected) for p in parsed)
    first = parsed[0].record
    assert isinstance(first, Rejected)
    assert path in [e.path for e in first.errors]


SCHEMA = orjson.loads((REPO_SCHEMAS / "contact.v1.json").read_bytes())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(from_schema(SCHEMA["$defs"]["contact"] | {"$defs": SCHEMA["$defs"]}))
def test_every_schema_valid_contact_maps_to_the_canonical_model(contact: Any) -> None:
    parsed = ADAPTER.parse(_env(_data(contact)), Catalog())
    rec = parsed[0].record
    if isinstance(rec, Rejected):  # only what a pattern cannot say: an impossible calendar date
        assert all(e.code.startswith("model.") for e in rec.errors), rec.errors
    else:
        assert isinstance(rec, ContactRecord) and rec.contact.user_data == contact.get("user_data", "")
        # a contact without user_data: the campaign's match policy decides


@settings(max_examples=50, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )
)
def test_any_input_gives_records_or_coded_failures_never_an_exception(data: Any) -> None:
    for p in ADAPTER.parse(_env(data), Catalog()):
        if isinstance(p.record, Rejected):
            assert p.record.errors and all(e.code and e.path.startswith("/") for e in p.record.errors)
