"""The thulium adapter: the seed's own example parses and answers exactly as documented; every rule of
the seed (existing customer, campaign statuses, MY_RECORD / CALL_NO_SOONER_THAN) fails with a code."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.catalog.model import Campaign, Catalog, StatusDef
from service.config import REPO_SCHEMAS
from service.dialects.thulium import Thulium
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, DialListMode, MemberMode, WriteMode
from service.model.envelope import Envelope
from service.model.job import ImportRequest
from service.model.outcome import Outcome, Status
from service.model.records import Parsed, Rejected
from service.pipeline import outcomes
from service.schemas import load_validator
from service.store.contacts import NOT_FOUND, Applied

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "thulium"
ADAPTER = Thulium(REPO_SCHEMAS)
SCHEMA = load_validator(REPO_SCHEMAS, "thulium")
TENANT = "your-system-name"
STATUSES = {
    "1": StatusDef("1", "New", None),
    "3": StatusDef("3", "Interested", None),
    "8": StatusDef("8", "My record", "MY_RECORD"),
    "9": StatusDef("9", "Call no sooner than", "CALL_NO_SOONER_THAN"),
}
# what the adapter itself may reject a schema-valid record for (the store adds customer.not_found)
SEMANTIC_CODES = {
    "thulium.status_unknown",
    "thulium.agent_required",
    "thulium.next_call_date_required",
    "thulium.bad_date",
}


def _catalog(tenant: str = TENANT, campaign: str = "00001") -> Catalog:
    camp = Campaign(tenant, campaign, f"Outbound {campaign}", statuses=dict(STATUSES))
    return Catalog(tenants={tenant}, campaigns={(tenant, campaign): camp})


CATALOG = _catalog()


def _env(data: Any, tenant: str | None = TENANT) -> Envelope:
    return Envelope("ev-1", "tests", "thulium", data, "in", 0, 7, 1_700_000_000_000, None, tenant)


def _golden(name: str) -> Any:
    return orjson.loads((GOLDEN / name).read_bytes())


def _seed_request() -> dict[str, Any]:
    """The seed's example call as event data: the URL's campaign id plus the request body."""
    url = (GOLDEN / "request_url.txt").read_text().strip()
    match = re.search(r"/api/batch/crm_outbounds/([^/]+)/records$", url)
    assert match is not None
    return {"id": match.group(1), **_golden("request_body.json")}


def _rec(**fields: Any) -> dict[str, Any]:
    return {"customer_id": 441, **fields}


def _one(record: Any, tenant: str | None = TENANT, **data: Any) -> ContactRecord | Rejected:
    parsed = ADAPTER.parse(_env({"id": "00001", "records": [record], **data}, tenant), CATALOG)
    assert len(parsed) == 1 and not isinstance(parsed[0].record, ImportRequest)
    return parsed[0].record


def _rejected(record: Any, **data: Any) -> Rejected:
    got = _one(record, **data)
    assert isinstance(got, Rejected), got
    return got


def _dump(parsed: list[Parsed]) -> list[Any]:
    out = []
    for p in parsed:
        assert isinstance(p.record, ContactRecord), p.record
        out.append(p.record.model_dump(mode="json", exclude_none=True))
    return out


def _outcome(parsed: Parsed, index: int, applied: Applied | None) -> Outcome:
    return outcomes.build(ADAPTER, _env({}), index, parsed, applied, "2026-01-01T00:00:00.000Z")


def _merged(natives: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for native in natives:
        merged.update(native)
    return merged


# -- golden: the seed's own examples ---------------------------------------------------------------


def test_the_seed_examples_send_one_and_the_same_request() -> None:
    assert _golden("request_body.json") == _golden("request_body_curl.json")
    assert _seed_request()["id"] == "00001"


def test_seed_request_parses_into_the_expected_canonical_records() -> None:
    parsed = ADAPTER.parse(_env(_seed_request()), CATALOG)
    assert _dump(parsed) == _golden("expected_records.json")
    assert all(not p.warnings for p in parsed)


def test_every_documented_example_value_maps_onto_the_membership() -> None:
    parsed = ADAPTER.parse(_env(_golden("example_values.json")), CATALOG)
    assert _dump(parsed) == _golden("expected_example_records.json")
    rec = parsed[0].record
    assert isinstance(rec, ContactRecord)
    assert rec.policy.mode is WriteMode.MUST_EXIST and rec.policy.member is MemberMode.INSERT_ONLY
    assert rec.policy.dial_list is DialListMode.MIRROR


def test_seed_response_is_the_merge_of_the_per_record_natives() -> None:
    """Store results as the seed describes them (441 added, 445 already there, 448 unknown) render
    the seed's response byte for byte, key order included."""
    parsed = ADAPTER.parse(_env(_seed_request()), CATALOG)
    applied = [
        Applied(Status.ADDED, {"user_data": "441"}, 1, [], record_id=111),
        Applied(Status.ALREADY_EXISTS, {"user_data": "445"}, 1, [], record_id=100),
        Applied(Status.FAILED, {}, 0, [], errors=[NOT_FOUND]),
    ]
    outs = [_outcome(p, i, a) for i, (p, a) in enumerate(zip(parsed, applied, strict=True))]
    assert [o.status for o in outs] == [Status.ADDED, Status.ALREADY_EXISTS, Status.FAILED]
    merged = _merged([o.native for o in outs])
    assert orjson.dumps(merged) == orjson.dumps(_golden("response.json"))


# -- native responses ------------------------------------------------------------------------------


def test_a_rejected_record_answers_failed_with_its_first_error_message() -> None:
    parsed = ADAPTER.parse(_env(_seed_request(), tenant=None), CATALOG)
    natives = [_outcome(p, i, None).native for i, p in enumerate(parsed)]
    assert list(_merged(natives)) == ["441", "445", "448"]
    assert natives[0] == {
        "441": {
            "http_status": 400,
            "status": "FAILED",
            "message": "No tenant: set the CloudEvents attribute 'tenant' (the Thulium system name).",
        }
    }


def test_a_record_without_a_usable_customer_id_is_keyed_by_its_position() -> None:
    parsed = ADAPTER.parse(_env({"id": "00001", "records": [_rec(), {"status_id": 1}]}), CATALOG)
    native = _outcome(parsed[1], 1, None).native
    assert native == {
        "records/1": {"http_status": 400, "status": "FAILED", "message": "'customer_id' is a required property"}
    }


def test_already_exists_without_a_known_record_id_leaves_the_id_out() -> None:
    parsed = ADAPTER.parse(_env(_seed_request()), CATALOG)
    out = _outcome(parsed[1], 1, Applied(Status.ALREADY_EXISTS, {}, 1, [], record_id=None))
    assert out.native == {"445": {"http_status": 400, "status": "ALREADY_EXISTS"}}


# -- the event: tenant and campaign ----------------------------------------------------------------


def test_no_tenant_fails_every_record_with_a_clear_code() -> None:
    parsed = ADAPTER.parse(_env(_seed_request(), tenant=None), CATALOG)
    assert len(parsed) == 3
    for p, key in zip(parsed, ["441", "445", "448"], strict=True):
        assert isinstance(p.record, Rejected)
        assert p.record.user_data == key and p.record.campaign == "00001"
        assert [e.code for e in p.record.errors] == ["thulium.tenant_missing"]


def test_the_tenant_may_be_given_in_the_data_instead() -> None:
    parsed = ADAPTER.parse(_env({"id": "00001", "tenant": TENANT, "records": [_rec()]}, tenant=None), CATALOG)
    assert isinstance(parsed[0].record, ContactRecord) and parsed[0].record.tenant == TENANT
    same = ADAPTER.parse(_env({"id": "00001", "tenant": TENANT, "records": [_rec()]}), CATALOG)
    assert isinstance(same[0].record, ContactRecord)


def test_a_tenant_attribute_and_field_that_differ_fail() -> None:
    parsed = ADAPTER.parse(_env({"id": "00001", "tenant": "someone-else", "records": [_rec()]}), CATALOG)
    bad = parsed[0].record
    assert isinstance(bad, Rejected)
    assert [(e.code, e.path) for e in bad.errors] == [("thulium.tenant_mismatch", "/tenant")]


@pytest.mark.parametrize(
    ("tenant", "campaign", "code", "path"),
    [
        ("nobody", "00001", "thulium.tenant_unknown", "/"),
        (TENANT, "00002", "thulium.campaign_not_found", "/id"),
        (TENANT, "0001", "thulium.bad_format", "/id"),
        (TENANT, "000001", "thulium.bad_format", "/id"),
        (TENANT, 1, "thulium.wrong_type", "/id"),
    ],
)
def test_unknown_or_malformed_campaign_fails_every_record(tenant: str, campaign: Any, code: str, path: str) -> None:
    parsed = ADAPTER.parse(_env({"id": campaign, "records": [_rec(), _rec(customer_id=445)]}, tenant), CATALOG)
    assert len(parsed) == 2
    for p in parsed:
        assert isinstance(p.record, Rejected)
        assert (p.record.errors[0].code, p.record.errors[0].path) == (code, path)
    assert [p.record.user_data for p in parsed if isinstance(p.record, Rejected)] == ["441", "445"]


def test_campaign_not_found_reads_like_the_vendor() -> None:
    parsed = ADAPTER.parse(_env({"id": "00009", "records": [_rec()]}), CATALOG)
    assert _outcome(parsed[0], 0, None).native == {
        "441": {"http_status": 400, "status": "FAILED", "message": "Campaign not found."}
    }


@pytest.mark.parametrize(
    ("data", "code", "path"),
    [
        ({"id": "00001"}, "thulium.missing", "/records"),
        ({"id": "00001", "records": []}, "thulium.too_few", "/records"),
        ({"id": "00001", "records": {"customer_id": 441}}, "thulium.missing", "/records"),
        ({"records": [{"customer_id": 441}]}, "thulium.missing", "/id"),
        ({"id": "00001", "records": [{"customer_id": 441}], "campaign": "x"}, "thulium.unknown_field", "/campaign"),
        ("records", "thulium.wrong_type", "/"),
        (None, "thulium.wrong_type", "/"),
    ],
)
def test_malformed_event_gives_failed_records_with_a_code(data: Any, code: str, path: str) -> None:
    parsed = ADAPTER.parse(_env(data), CATALOG)
    assert parsed and all(isinstance(p.record, Rejected) for p in parsed)
    errors = [e for p in parsed if isinstance(p.record, Rejected) for e in p.record.errors]
    assert (code, path) in {(e.code, e.path) for e in errors}


def test_too_many_records_fail() -> None:
    parsed = ADAPTER.parse(_env({"id": "00001", "records": [_rec()] * 10_001}), CATALOG)
    assert len(parsed) == 10_001
    first = parsed[0].record
    assert isinstance(first, Rejected) and first.errors[0].code == "thulium.too_many"


# -- one record ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer_id", "key"), [(441, "441"), ("441", "441"), (441.0, "441"), ("C-77", "C-77"), (0, "0")]
)
def test_customer_id_is_the_contact_key(customer_id: Any, key: str) -> None:
    got = _one({"customer_id": customer_id})
    assert isinstance(got, ContactRecord) and got.contact.user_data == key


@pytest.mark.parametrize(
    ("record", "code", "path"),
    [
        ({"status_id": 1}, "thulium.missing", "/records/0/customer_id"),
        (_rec(customer_id=True), "thulium.invalid", "/records/0/customer_id"),
        (_rec(customer_id=-1), "thulium.invalid", "/records/0/customer_id"),
        (_rec(customer_id=441.5), "thulium.invalid", "/records/0/customer_id"),
        (_rec(customer_id=""), "thulium.invalid", "/records/0/customer_id"),
        (_rec(customer_id=" 441"), "thulium.invalid", "/records/0/customer_id"),
        (_rec(status_id=2), "thulium.status_unknown", "/records/0/status_id"),
        (_rec(status_id="x y"), "thulium.invalid", "/records/0/status_id"),
        (_rec(status_id=1.5), "thulium.invalid", "/records/0/status_id"),
        (_rec(dictionary_status_id=[8]), "thulium.invalid", "/records/0/dictionary_status_id"),
        (_rec(agent_login=""), "thulium.too_short", "/records/0/agent_login"),
        (_rec(agent_login="a" * 65), "thulium.too_long", "/records/0/agent_login"),
        (_rec(order=2**31), "thulium.out_of_range", "/records/0/order"),
        (_rec(order="50"), "thulium.wrong_type", "/records/0/order"),
        (_rec(next_call_date="2018-05-24T12:24"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date="2018-5-24 12:24"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date="2018-05-24 12:24:00"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date="24-05-2018 12:24"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date="2018-02-30 12:00"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date="2018-05-24 24:00"), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date=""), "thulium.bad_date", "/records/0/next_call_date"),
        (_rec(next_call_date=20180524), "thulium.wrong_type", "/records/0/next_call_date"),
        (_rec(colour="red"), "thulium.unknown_field", "/records/0/colour"),
        ("441", "thulium.wrong_type", "/records/0"),
    ],
)
def test_invalid_record_fails_with_code_and_path(record: Any, code: str, path: str) -> None:
    bad = _rejected(record)
    assert (bad.errors[0].code, bad.errors[0].path) == (code, path)
    assert bad.errors[0].message


def test_my_record_needs_an_agent_and_a_next_call_date() -> None:
    bad = _rejected(_rec(status_id=8))
    assert [(e.code, e.path) for e in bad.errors] == [
        ("thulium.agent_required", "/records/0/agent_login"),
        ("thulium.next_call_date_required", "/records/0/next_call_date"),
    ]
    assert bad.errors[0].message == "agent_login is required for status MY_RECORD."
    no_date = _rejected(_rec(status_id=8, agent_login="j.doe"))
    assert [e.code for e in no_date.errors] == ["thulium.next_call_date_required"]
    no_agent = _rejected(_rec(status_id="8", next_call_date="2018-05-24 12:24", agent_login=None))
    assert [e.code for e in no_agent.errors] == ["thulium.agent_required"]


def test_call_no_sooner_than_needs_a_date_but_no_agent() -> None:
    bad = _rejected(_rec(status_id=9))
    assert [e.code for e in bad.errors] == ["thulium.next_call_date_required"]
    assert "CALL_NO_SOONER_THAN" in bad.errors[0].message
    good = _one(_rec(status_id=9, next_call_date="2026-12-01 08:30"))
    assert isinstance(good, ContactRecord) and good.contact.agent is None
    assert (
        good.contact.next_call_at is not None and good.contact.next_call_at.isoformat() == "2026-12-01T08:30:00+00:00"
    )


def test_a_system_status_is_matched_case_insensitively() -> None:
    camp = Campaign(TENANT, "00001", "x", statuses={"8": StatusDef("8", "Mine", "my_record")})
    catalog = Catalog(tenants={TENANT}, campaigns={(TENANT, "00001"): camp})
    parsed = ADAPTER.parse(_env({"id": "00001", "records": [_rec(status_id=8)]}), catalog)
    assert isinstance(parsed[0].record, Rejected)
    assert parsed[0].record.errors[0].code == "thulium.agent_required"


def test_a_status_without_system_status_needs_nothing_and_dates_are_still_checked() -> None:
    ok = _one(_rec(status_id=3, agent_login="j.doe", order=0))
    assert isinstance(ok, ContactRecord)
    assert (ok.contact.status, ok.contact.agent, ok.contact.priority) == ("3", "j.doe", 0)
    bad = _rejected(_rec(status_id=3, next_call_date="2018-13-01 10:00"))
    assert [e.code for e in bad.errors] == ["thulium.bad_date"]


def test_a_campaign_without_status_definitions_knows_no_status() -> None:
    catalog = Catalog(tenants={TENANT}, campaigns={(TENANT, "00001"): Campaign(TENANT, "00001", "bare")})
    parsed = ADAPTER.parse(_env({"id": "00001", "records": [_rec(), _rec(status_id=1)]}), catalog)
    assert isinstance(parsed[0].record, ContactRecord)
    assert isinstance(parsed[1].record, Rejected) and parsed[1].record.errors[0].code == "thulium.status_unknown"


def test_null_optional_fields_count_as_absent() -> None:
    got = _one(_rec(status_id=None, dictionary_status_id=None, agent_login=None, next_call_date=None, order=None))
    assert isinstance(got, ContactRecord)
    c = got.contact
    assert (c.status, c.agent, c.priority, c.next_call_at, c.attributes) == (None, None, None, None, {})


def test_dictionary_status_is_kept_on_the_membership() -> None:
    got = _one(_rec(dictionary_status_id="D-2"))
    assert isinstance(got, ContactRecord) and got.contact.dictionary_status == "D-2" and got.contact.attributes == {}
    numeric = _one(_rec(dictionary_status_id=8))
    assert isinstance(numeric, ContactRecord) and numeric.contact.dictionary_status == "8"


def test_a_bad_record_fails_alone_and_order_is_kept() -> None:
    records = [_rec(), _rec(customer_id=445, status_id=2), {"status_id": 1}, _rec(customer_id=448, status_id=1)]
    parsed = ADAPTER.parse(_env({"id": "00001", "records": records}), CATALOG)
    kinds = [type(p.record).__name__ for p in parsed]
    assert kinds == ["ContactRecord", "Rejected", "Rejected", "ContactRecord"]
    second, third = parsed[1].record, parsed[2].record
    assert isinstance(second, Rejected) and second.user_data == "445"
    assert isinstance(third, Rejected) and third.user_data is None
    assert third.errors[0].path == "/records/2/customer_id"


def test_the_registry_speaks_thulium_by_name_and_alias() -> None:
    from service.dialects import default_registry

    registry = default_registry(REPO_SCHEMAS)
    assert registry.resolve("thulium") == "thulium"
    assert registry.resolve("contact-import.thulium.v1") == "thulium"
    assert registry.accepts_text("thulium") is False


# -- properties ------------------------------------------------------------------------------------

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROOT = SCHEMA.schema
# schema-valid values the random generator rarely hits: the catalog's statuses and real dates
LIKELY: dict[str, st.SearchStrategy[Any]] = {
    "status_id": st.sampled_from([1, "3", 8, "9", None]),
    "next_call_date": st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
    "agent_login": st.just("j.doe"),
}


def _strategy(schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values valid under ``schema``: hypothesis-jsonschema for the leaves, objects and arrays built
    here (its object strategy calls a hypothesis internal the installed hypothesis no longer has)."""
    if "$ref" in schema:
        return _strategy(ROOT["$defs"][schema["$ref"].rsplit("/", 1)[-1]], name)
    if schema.get("type") == "object":
        props, required = schema["properties"], set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: _strategy(v, k) for k, v in props.items() if k in required},
            optional={k: _strategy(v, k) for k, v in props.items() if k not in required},
        )
    if schema.get("type") == "array":
        return st.lists(_strategy(schema["items"]), min_size=schema.get("minItems", 0), max_size=5)
    leaf = from_schema({**schema, "$defs": ROOT["$defs"]})
    return leaf | LIKELY[name] if name in LIKELY else leaf


EVENTS = _strategy(ROOT)


def _key(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) else str(value)


def _expected_codes(raw: dict[str, Any]) -> list[str]:
    """The seed's rules, written out independently of the adapter."""
    codes: list[str] = []
    date = raw.get("next_call_date")
    if date is not None:
        try:
            datetime.strptime(date, "%Y-%m-%d %H:%M")
        except ValueError:
            codes.append("thulium.bad_date")
    status = raw.get("status_id")
    if status is None:
        return codes
    status_def = STATUSES.get(_key(status))
    if status_def is None:
        return [*codes, "thulium.status_unknown"]
    if status_def.system_status == "MY_RECORD" and raw.get("agent_login") is None:
        codes.append("thulium.agent_required")
    if status_def.system_status in ("MY_RECORD", "CALL_NO_SOONER_THAN") and date is None:
        codes.append("thulium.next_call_date_required")
    return codes


@PROPS
@given(EVENTS)
def test_every_schema_valid_event_maps_to_the_canonical_model(data: dict[str, Any]) -> None:
    assert SCHEMA.is_valid(data)
    tenant = data.get("tenant", "acme")
    parsed = ADAPTER.parse(_env(data, None if "tenant" in data else "acme"), _catalog(tenant, data["id"]))
    assert len(parsed) == len(data["records"])
    for p, raw in zip(parsed, data["records"], strict=True):
        rec, expected = p.record, _expected_codes(raw)
        if isinstance(rec, Rejected):
            assert [e.code for e in rec.errors] == expected and set(expected) <= SEMANTIC_CODES
            assert rec.user_data == _key(raw["customer_id"])
            continue
        assert expected == [] and isinstance(rec, ContactRecord)
        assert (rec.tenant, rec.campaign, rec.contact.user_data) == (tenant, data["id"], _key(raw["customer_id"]))
        assert rec.contact.phones == [] and rec.policy.mode is WriteMode.MUST_EXIST
        assert rec.contact.status == (None if raw.get("status_id") is None else _key(raw["status_id"]))
        assert rec.contact.agent == raw.get("agent_login") and rec.contact.priority == raw.get("order")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["customer_id", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "order", "extra"]
)


@PROPS
@given(EVENTS, st.data())
def test_a_schema_invalid_record_fails_with_a_code_and_the_others_are_unaffected(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    data.pop("tenant", None)
    index = draw.draw(st.integers(0, len(data["records"]) - 1))
    field, value = draw.draw(FIELDS), draw.draw(JSON)
    records = [dict(r) for r in data["records"]]
    records[index][field] = value
    mutated = {**data, "records": records}
    before = ADAPTER.parse(_env(data), _catalog(TENANT, data["id"]))
    after = ADAPTER.parse(_env(mutated), _catalog(TENANT, data["id"]))
    assert len(after) == len(records)
    if not SCHEMA.is_valid(mutated):
        bad = after[index].record
        assert isinstance(bad, Rejected) and bad.errors
        assert all(e.code.startswith("thulium.") and e.path.startswith(f"/records/{index}") for e in bad.errors)
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if i != index:
            assert b == a


@PROPS
@given(JSON, st.none() | st.text(max_size=8))
def test_any_json_at_all_gives_one_parsed_per_record_and_never_raises(data: Any, tenant: str | None) -> None:
    parsed = ADAPTER.parse(_env(data, tenant), CATALOG)
    assert parsed
    for p in parsed:
        if isinstance(p.record, Rejected):
            assert p.record.errors and all(isinstance(e, ErrorDetail) for e in p.record.errors)
            assert all(e.code.startswith(("thulium.", "customer.")) for e in p.record.errors)
    if isinstance(data, dict) and isinstance(data.get("records"), list) and data["records"]:
        assert len(parsed) == len(data["records"])
