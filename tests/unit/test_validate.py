"""The two validators behind :class:`Schema` give the same verdict, and errors keep their shape.

``jsonschema_rs`` decides validity on the hot path and the pure-Python ``jsonschema`` explains a
rejection. If they disagreed, a record could be accepted that the schema forbids, or rejected
without a reason: these properties run both over schema-generated instances and mutations of them,
for every dialect schema and every one of its definitions.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.config import REPO_SCHEMAS
from service.schemas import Schema, definition, load_validator, schema_errors, without_property

DIALECT_SCHEMAS = sorted(p.stem for p in REPO_SCHEMAS.glob("*.json") if p.stem != "outcome.v1")
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
# generating some definitions takes seconds per example (importws params, the dialler's whole
# contact, isales fileImport): the parts that make them up are covered instead
SLOW_TO_GENERATE = {"dialler", "dialler/contact", "dialler/request", "importws", "importws/params", "isales/fileImport"}


def _targets() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for name in DIALECT_SCHEMAS:
        out.append((name, None))
        out.extend((name, d) for d in sorted(load_validator(REPO_SCHEMAS, name).schema.get("$defs", {})))
    return [(n, d) for n, d in out if (n if d is None else f"{n}/{d}") not in SLOW_TO_GENERATE]


@cache
def _schema(name: str, sub: str | None) -> Schema:
    whole = load_validator(REPO_SCHEMAS, name)
    return whole if sub is None else definition(whole, sub)


def _python_valid(schema: Schema, instance: Any) -> bool:
    return not any(True for _ in schema._explain.iter_errors(instance))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "+4420123456", "a@b", "2026-11-24T10:00:00Z", "123\n", "x" * 300]),
)


def _mutate(data: st.DataObject, instance: Any) -> Any:
    """Replace one value anywhere in ``instance`` by an arbitrary scalar, or drop one member."""
    if isinstance(instance, dict) and instance:
        key = data.draw(st.sampled_from(sorted(instance)))
        choice = data.draw(st.integers(0, 2))
        if choice == 0:
            return {k: v for k, v in instance.items() if k != key}
        if choice == 1:
            return {**instance, key: data.draw(_SCALARS)}
        return {**instance, key: _mutate(data, instance[key])}
    if isinstance(instance, list) and instance:
        i = data.draw(st.integers(0, len(instance) - 1))
        return [*instance[:i], _mutate(data, instance[i]), *instance[i + 1 :]]
    return data.draw(_SCALARS)


@pytest.mark.parametrize(("name", "sub"), _targets(), ids=lambda v: str(v))
@PROPERTY
@given(data=st.data())
def test_fast_and_explaining_validators_agree(name: str, sub: str | None, data: st.DataObject) -> None:
    schema = _schema(name, sub)
    instance = data.draw(from_schema(schema.schema))
    # hypothesis-jsonschema ignores a few keywords (dependentRequired): agreement is what counts
    assert schema.is_valid(instance) == _python_valid(schema, instance), instance
    for _ in range(5):
        mutated = _mutate(data, copy.deepcopy(instance))
        assert schema.is_valid(mutated) == _python_valid(schema, mutated), mutated


def test_a_rejection_always_says_why() -> None:
    contact = _schema("contact.v1", "contact")
    errors = schema_errors(contact, {"user_data": "", "phones": [{"number": "123\n"}], "extra": 1}, ("contacts", 3))
    assert [(e.code, e.path) for e in errors] == [
        ("schema.unknown_field", "/contacts/3/extra"),
        ("schema.bad_format", "/contacts/3/phones/0/number"),
        ("schema.too_short", "/contacts/3/user_data"),
    ]
    assert schema_errors(contact, {"user_data": "u1", "phones": [{"number": "+4420123456"}]}) == []


@pytest.mark.parametrize(("name", "records"), [("contact.v1", "contacts"), ("thulium", "records")])
def test_an_event_head_without_its_records_passes_the_fast_check_and_keeps_its_errors(name: str, records: str) -> None:
    """A batch event's head (its fields but the records) is checked against the schema without the
    records property: a good head passes jsonschema_rs alone, a bad one is still explained."""
    whole = load_validator(REPO_SCHEMAS, name)
    head_schema = without_property(whole, records)
    head = {"tenant": "acme", "campaign": "spring"} if name == "contact.v1" else {"id": "00001", "tenant": "acme"}
    assert not whole.is_valid(head)  # the whole schema requires the records
    assert head_schema.is_valid(head) and schema_errors(head_schema, head) == []
    bad = {**head, "tenant": "no spaces allowed"}
    [error] = schema_errors(head_schema, bad)
    assert (error.code, error.path) == ("schema.bad_format", "/tenant")
    assert schema_errors(head_schema, {**head, "surprise": 1})[0].path == "/surprise"
