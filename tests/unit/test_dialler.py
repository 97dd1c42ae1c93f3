"""The dialler adapter: the seed's own examples (golden), its mandatory fields, overwrite semantics,
the native response, and properties over every schema-valid DiallerContact."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.catalog.model import Campaign, Catalog
from service.config import REPO_SCHEMAS
from service.dialects.dialler import Dialler
from service.dialects.dialler_fields import ACCEPTED, CONTACT_FIELDS, INVALID_FLAGS, PHONES, STATE_FIELDS
from service.model.contact import ContactRecord, DialListMode, MatchOn, MatchPolicy, MemberMode, WriteMode
from service.model.envelope import Envelope
from service.model.outcome import ErrorModel, Outcome, Source, Status
from service.model.records import Parsed, Rejected, generated_key
from service.pipeline.phones import normalise_all
from service.schemas import load_validator, pointer
from service.store import contacts
from tests.support import ROOT

GOLDEN = ROOT / "tests" / "golden" / "dialler"
ADAPTER = Dialler(REPO_SCHEMAS)
SCHEMA = load_validator(REPO_SCHEMAS, "dialler")
CATALOG = Catalog(
    tenants={"acme", "other"},
    campaigns={
        ("acme", "538"): Campaign("acme", "538", "My Campaign Name"),
        ("acme", "sales-q3"): Campaign("acme", "sales-q3", "Sales Q3"),
        ("other", "538"): Campaign("other", "538", "Other tenant's 538"),
    },
)


def _golden(name: str) -> Any:
    return orjson.loads((GOLDEN / name).read_bytes())


def _elided(name: str) -> Any:
    """A seed example that elides fields with '...': the JSON it shows, without the elision."""
    return orjson.loads((GOLDEN / name).read_text().replace("...", ""))


def _seed_contact() -> dict[str, Any]:
    data = _golden("import_by_id.request.json")
    assert isinstance(data, dict)
    return data


def _parse(data: Any, tenant: str | None = "acme", catalog: Catalog = CATALOG) -> Parsed:
    env_data = orjson.loads(orjson.dumps(data))  # exactly what the envelope decoder hands over
    parsed = ADAPTER.parse(Envelope("ev", "tests", "dialler", env_data, "in", 0, 0, 0, None, tenant), catalog)
    assert len(parsed) == 1
    return parsed[0]


def _record(data: Any, **kw: Any) -> ContactRecord:
    rec = _parse(data, **kw).record
    assert isinstance(rec, ContactRecord), rec
    return rec


def _rejected(data: Any, **kw: Any) -> Rejected:
    rec = _parse(data, **kw).record
    assert isinstance(rec, Rejected), rec
    return rec


def _codes(parsed: Parsed) -> list[tuple[str, str]]:
    return [(w.code, w.path) for w in parsed.warnings]


def _outcome(status: Status, contact: dict[str, Any] | None, **kw: Any) -> Outcome:
    base: dict[str, Any] = {
        "outcome_id": "o",
        "event_id": "ev",
        "record_index": 0,
        "dialect": "dialler",
        "tenant": "acme",
        "campaign": "538",
        "status": status,
        "contact": contact,
        "source": Source(topic="in", partition=0, offset=0),
        "received_at": "2026-01-01T00:00:00.000Z",
        "processed_at": "2026-01-01T00:00:00.000Z",
    }
    return Outcome(**{**base, **kw})


def _store(*records: ContactRecord) -> list[contacts.Applied]:
    """The store's own in-memory semantics (what ``contacts.apply`` computes before writing)."""
    state = contacts._State({}, {}, {})
    return [contacts._apply_one(state, r) for r in records]


def _native(applied: contacts.Applied, rec: ContactRecord) -> Any:
    return ADAPTER.native(_outcome(applied.status, applied.contact, campaign=rec.campaign, tenant=rec.tenant))


# --- golden: the seed's own examples ---------------------------------------------------------------


def test_golden_full_example_by_id_maps_to_the_expected_canonical_record() -> None:
    parsed = _parse(_seed_contact())
    assert parsed.warnings == []
    assert isinstance(parsed.record, ContactRecord)
    assert parsed.record.model_dump(mode="json") == _golden("import_by_id.record.json")


def test_golden_full_example_by_id_gives_the_expected_native_response() -> None:
    """The seed's example as the pipeline stores it: its placeholder numbers kept and flagged invalid."""
    [refined] = normalise_all([Parsed(_record(_seed_contact()))], Catalog(), None)
    rec = refined.record
    assert isinstance(rec, ContactRecord)
    [applied] = _store(rec)
    assert applied.status is Status.ADDED
    assert _native(applied, rec) == _golden("import_by_id.native.json")


def test_golden_native_response_holds_every_field_of_the_seeds_response_examples() -> None:
    native = _golden("import_by_id.native.json")
    [record] = native["records"]
    seed_import = _elided("import.response.seed.txt")
    assert {k: native[k] for k in ("count", "status")} == {"count": 1, "status": 200}
    [expected] = seed_import["records"]
    # same keys, same values as the seed shows, except the invalid flags: the seed's shortened response
    # shows bPhoneNumber3Invalid/bPhoneNumber4Invalid null, while the example's numbers are the placeholders
    # "PhoneNumber1".."6", which the service keeps and flags true (undialable numbers are stored, flagged)
    flags = {k for k in expected if k in INVALID_FLAGS.values()}
    assert flags == {"bPhoneNumber3Invalid", "bPhoneNumber4Invalid"} and all(record[k] is True for k in flags)
    assert {k: record[k] for k in expected if k not in flags} == {k: v for k, v in expected.items() if k not in flags}
    [listing] = _elided("contacts.response.seed.txt")["records"]
    assert set(listing) <= set(record)
    assert set(_seed_contact()) <= set(record)
    assert set(record) == {*CONTACT_FIELDS, *STATE_FIELDS}


def test_golden_by_name_example_resolves_the_campaign_and_reports_its_garbled_keys() -> None:
    parsed = _parse(_elided("import_by_name.seed.txt"))
    assert isinstance(parsed.record, ContactRecord)
    assert parsed.record.model_dump(mode="json") == _golden("import_by_name.record.json")
    assert [w.as_dict() for w in parsed.warnings] == _golden("import_by_name.warnings.json")
    assert parsed.record.campaign == "538"
    assert parsed.record.contact.attributes["dtBeginDateUserData"] == "2020-01-01T00:00:00testUserData"
    assert parsed.record.contact.window_begin is None  # the garbled key is not the dialling window


# --- the request wrapper and overwriteDuplicates ------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "mode"),
    [
        (True, WriteMode.REPLACE),
        ("true", WriteMode.REPLACE),
        ("TRUE", WriteMode.REPLACE),
        (False, WriteMode.KEEP),
        ("false", WriteMode.KEEP),
        (None, WriteMode.KEEP),
    ],
)
def test_overwrite_duplicates_selects_the_write_mode(flag: Any, mode: WriteMode) -> None:
    data: dict[str, Any] = {"contact": _seed_contact()}
    if flag is not None:
        data["overwriteDuplicates"] = flag
    assert _record(data).policy.mode is mode
    kept = _record(_seed_contact()).policy  # never written over; joins the campaign, once
    assert (kept.mode, kept.member, kept.dial_list) == (WriteMode.KEEP, MemberMode.INSERT_ONLY, DialListMode.MIRROR)


@pytest.mark.parametrize(
    ("data", "code", "path"),
    [
        ({"overwriteDuplicates": "yes", "contact": {}}, "dialler.invalid", "/overwriteDuplicates"),
        ({"overwriteDuplicates": True, "contact": "Name=x"}, "dialler.wrong_type", "/contact"),
        ({"overwriteDuplicates": True, "contact": {"DiallerCampaignsID": 538}}, "dialler.name_missing", None),
        (["not", "an", "object"], "dialler.wrong_type", "/"),
        ("Name=x", "dialler.wrong_type", "/"),
    ],
)
def test_bad_requests_fail_with_a_code(data: Any, code: str, path: str | None) -> None:
    bad = _rejected(data)
    assert bad.errors[0].code == code
    assert bad.errors[0].path == (path or "/contact/Name")


def test_unknown_request_parameters_are_warnings() -> None:
    parsed = _parse({"overwriteDuplicates": True, "contact": _seed_contact(), "dryRun": True})
    assert isinstance(parsed.record, ContactRecord)
    assert _codes(parsed) == [("dialler.unknown_field", "/dryRun")]


def test_overwrite_true_replaces_a_user_data_match() -> None:
    first = _record(_seed_contact())
    changed = {**_seed_contact(), "Name": "Renamed", "Company": None, "PhoneNumber2": ""}
    second = _record({"overwriteDuplicates": True, "contact": changed})
    added, updated = _store(first, second)
    assert (added.status, updated.status) == (Status.ADDED, Status.UPDATED)
    [native] = _native(updated, second)["records"]
    assert native["Name"] == "Renamed" and native["Company"] is None and native["PhoneNumber2"] is None
    assert [e["phone"] for e in updated.dial_list] == ["PhoneNumber1", *PHONES[2:]]
    [_, again] = _store(second, second)
    assert again.status is Status.UNCHANGED


def test_overwrite_false_keeps_and_returns_the_existing_contact() -> None:
    first = _record(_seed_contact())
    second = _record({"overwriteDuplicates": False, "contact": {**_seed_contact(), "Name": "Someone else"}})
    _, kept = _store(first, second)
    assert kept.status is Status.ALREADY_EXISTS
    response = _native(kept, second)
    assert response["status"] == 200 and response["count"] == 1
    assert response["records"][0]["Name"] == "Name"  # the existing contact, not the new data
    assert response["records"][0]["dtBeginDate"] == "2020-01-01T00:00:00"


# --- tenant and campaign -------------------------------------------------------------------------------


def test_missing_tenant_fails_with_a_clear_code_and_a_400_response() -> None:
    bad = _rejected(_seed_contact(), tenant=None)
    assert (bad.errors[0].code, bad.errors[0].path) == ("dialler.tenant_missing", "/")
    assert bad.user_data == "testUserData" and bad.campaign == "538"
    out = _outcome(Status.FAILED, None, errors=[ErrorModel.of(e) for e in bad.errors], tenant=None)
    assert ADAPTER.native(out) == {
        "records": [],
        "count": 0,
        "status": 400,
        "message": "the CloudEvents attribute 'tenant' is missing",
    }


@pytest.mark.parametrize(
    ("change", "tenant", "code", "path"),
    [
        ({}, "nobody", "dialler.tenant_unknown", "/"),
        ({"DiallerCampaignsID": 999}, "acme", "dialler.campaign_unknown", "/DiallerCampaignsID"),
        ({"DiallerCampaignsID": "sales-q4"}, "acme", "dialler.campaign_unknown", "/DiallerCampaignsID"),
        ({"DiallerCampaignsID": None, "DiallerCampaignsName": "Nope"}, "acme", "dialler.campaign_unknown", None),
        ({"DiallerCampaignsID": None}, "acme", "dialler.campaign_missing", "/DiallerCampaignsID"),
        ({"DiallerCampaignsID": " "}, "acme", "dialler.campaign_missing", "/DiallerCampaignsID"),
        ({"DiallerCampaignsID": 1.5}, "acme", "dialler.wrong_type", "/DiallerCampaignsID"),
    ],
)
def test_campaign_problems_fail(change: dict[str, Any], tenant: str, code: str, path: str | None) -> None:
    bad = _rejected({**_seed_contact(), **change}, tenant=tenant)
    assert [(e.code, e.path) for e in bad.errors] == [(code, path or "/DiallerCampaignsName")]


@pytest.mark.parametrize(
    ("ref", "campaign"),
    [
        ({"DiallerCampaignsID": "538"}, "538"),
        ({"DiallerCampaignsID": " 538 "}, "538"),
        ({"DiallerCampaignsName": "Sales Q3"}, "sales-q3"),
        ({"DiallerCampaignsID": "sales-q3"}, "sales-q3"),
        ({"DiallerCampaignsID": None, "DiallerCampaignsName": "My Campaign Name"}, "538"),
    ],
)
def test_campaign_by_id_or_name(ref: dict[str, Any], campaign: str) -> None:
    data = {k: v for k, v in _seed_contact().items() if k != "DiallerCampaignsID"}
    assert _record({**data, **ref}).campaign == campaign


def test_the_campaign_is_looked_up_in_the_events_tenant() -> None:
    rec = _record(_seed_contact(), tenant="other")
    assert (rec.tenant, rec.campaign) == ("other", "538")
    [applied] = _store(rec)
    [native] = _native(applied, rec)["records"]
    assert native["DiallerCampaignsName"] == "Other tenant's 538"


def test_the_id_wins_over_a_differing_name_with_a_warning() -> None:
    parsed = _parse({**_seed_contact(), "DiallerCampaignsName": "Sales Q3"})
    assert isinstance(parsed.record, ContactRecord) and parsed.record.campaign == "538"
    assert _codes(parsed) == [("dialler.campaign_name_mismatch", "/DiallerCampaignsName")]


def test_a_non_numeric_campaign_id_stays_a_string_in_the_response() -> None:
    rec = _record({**_seed_contact(), "DiallerCampaignsID": "sales-q3"})
    [applied] = _store(rec)
    [native] = _native(applied, rec)["records"]
    assert (native["DiallerCampaignsID"], native["DiallerCampaignsName"]) == ("sales-q3", "Sales Q3")


# --- mandatory fields, phones and the key -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        ({"Name": None}, "dialler.name_missing", "/Name"),
        ({"Name": "   "}, "dialler.name_missing", "/Name"),
        ({"Name": 7}, "dialler.wrong_type", "/Name"),
        ({f: None for f in PHONES}, "dialler.phone_missing", "/PhoneNumber1"),
        ({f: " " for f in PHONES}, "dialler.phone_missing", "/PhoneNumber1"),
        ({**{f: None for f in PHONES}, "PhoneNumber1": 4930123}, "dialler.wrong_type", "/PhoneNumber1"),
        ({"UserData": "U" * 129}, "dialler.too_long", "/UserData"),
        ({"Amount": "12,50"}, "dialler.wrong_type", "/Amount"),
        ({"RandomSortOrder": 0.5}, "dialler.wrong_type", "/RandomSortOrder"),
        ({"bPhoneNumber2Invalid": "true"}, "dialler.wrong_type", "/bPhoneNumber2Invalid"),
        ({"bPhoneNumber6Invalid": 1}, "dialler.wrong_type", "/bPhoneNumber6Invalid"),
        ({"dtBeginDate": "01.01.2020"}, "dialler.bad_format", "/dtBeginDate"),
        ({"dtEndDate": "2020-02-30T00:00:00"}, "dialler.bad_datetime", "/dtEndDate"),
        ({"FollowUpDateTime": "2020-01-01T25:00:00"}, "dialler.bad_datetime", "/FollowUpDateTime"),
    ],
)
def test_invalid_contacts_fail_with_code_and_path(change: dict[str, Any], code: str, path: str) -> None:
    bad = _rejected({**_seed_contact(), **change})
    assert [(e.code, e.path) for e in bad.errors] == [(code, path)]
    assert not SCHEMA.is_valid({**_seed_contact(), **change}) or code == "dialler.bad_datetime"
    wrapped = _rejected({"overwriteDuplicates": True, "contact": {**_seed_contact(), **change}})
    assert [(e.code, e.path) for e in wrapped.errors] == [(code, "/contact" + path)]


def test_every_mandatory_problem_is_reported_at_once() -> None:
    bad = _rejected({"Company": "ACME"}, tenant=None)
    assert [e.code for e in bad.errors] == [
        "dialler.tenant_missing",
        "dialler.name_missing",
        "dialler.campaign_missing",
        "dialler.phone_missing",
    ]


def test_the_schema_types_the_seeds_invalid_flags_and_a_true_flag_marks_its_phone() -> None:
    fields = DEFS["fields"]["properties"]
    assert [f for f in fields if f in INVALID_FLAGS.values()] == list(INVALID_FLAGS.values())
    assert all(_typed(f)["type"] == ["boolean", "null"] for f in INVALID_FLAGS.values())
    data = {
        **_seed_contact(),
        "bPhoneNumber1Invalid": True,
        "bPhoneNumber2Invalid": False,
        "bPhoneNumber3Invalid": None,
    }
    parsed = _parse(data)
    assert isinstance(parsed.record, ContactRecord) and _codes(parsed) == []
    assert [p.invalid for p in parsed.record.contact.phones[:3]] == [True, None, None]
    assert parsed.record.contact.attributes == {}


def test_phones_keep_their_slot_and_order_and_the_fax_is_not_dialled() -> None:
    data = {**_seed_contact(), **{f: None for f in PHONES}, "PhoneNumber5": " +49 30 1 ", "PhoneNumber3": "0301"}
    rec = _record(data)
    assert [(p.number, p.type) for p in rec.contact.phones] == [("0301", "PhoneNumber3"), ("+49 30 1", "PhoneNumber5")]
    assert rec.contact.fields["FaxNumber"] == "FaxNumber"
    only_fax = _rejected({**data, "PhoneNumber5": None, "PhoneNumber3": ""})
    assert only_fax.errors[0].code == "dialler.phone_missing"
    [applied] = _store(rec)
    [native] = _native(applied, rec)["records"]
    assert [native[f] for f in PHONES] == [None, None, "0301", None, "+49 30 1", None]


@pytest.mark.parametrize("user_data", [None, "", "  ", "missing"])
def test_without_user_data_the_key_comes_from_the_event_never_the_phone(user_data: str | None) -> None:
    data = {**_seed_contact(), "UserData": user_data, "PhoneNumber1": None}
    if user_data == "missing":
        del data["UserData"]
    parsed = _parse(data)
    assert isinstance(parsed.record, ContactRecord)
    key = parsed.record.contact.user_data
    assert key == generated_key("event\x1ftests\x1fev\x1f0") and key.startswith("auto-")
    assert _codes(parsed) == [("dialler.user_data_generated", "/UserData")]
    assert key in parsed.warnings[0].message and "PhoneNumber2" not in parsed.warnings[0].message
    env = Envelope("another", "tests", "dialler", orjson.loads(orjson.dumps(data)), "in", 0, 1, 0, None, "acme")
    other = ADAPTER.parse(env, CATALOG)[0].record
    assert isinstance(other, ContactRecord) and other.contact.user_data not in (key, "PhoneNumber2")


def test_without_user_data_a_campaign_matching_on_the_phone_leaves_the_key_to_the_store() -> None:
    by_phone = MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE)
    catalog = Catalog(tenants={"acme"}, campaigns={("acme", "538"): Campaign("acme", "538", "C", match=by_phone)})
    parsed = _parse({**_seed_contact(), "UserData": ""}, catalog=catalog)
    assert isinstance(parsed.record, ContactRecord) and parsed.record.contact.user_data == ""
    assert _codes(parsed) == [("dialler.user_data_from_phone", "/UserData")]
    assert "matched by its phone numbers" in parsed.warnings[0].message
    assert _record(_seed_contact(), catalog=catalog).contact.user_data == "testUserData"


def test_name_email_and_standard_fields_land_in_the_canonical_contact() -> None:
    data = {**_seed_contact(), "Email": "", "Comment": "", "Amount": 12.5, "RandomSortOrder": 3}
    rec = _record(data)
    assert rec.contact.name == "Name" and rec.contact.email is None
    assert rec.contact.fields["Comment"] == "" and rec.contact.fields["Amount"] == 12.5
    assert rec.contact.fields["RandomSortOrder"] == 3 and "FollowUpDateTime" not in rec.contact.fields
    assert not {"Name", "Email", "UserData", *PHONES} & set(rec.contact.fields)


# --- the dialling window -----------------------------------------------------------------------------------


def test_the_window_with_an_offset_is_stored_in_utc_and_rendered_without_offset() -> None:
    rec = _record({**_seed_contact(), "dtBeginDate": "2020-01-01T08:30:00+01:00", "dtEndDate": "2020-03-01"})
    assert rec.contact.window_begin is not None and rec.contact.window_begin.utcoffset() is not None
    [applied] = _store(rec)
    [native] = _native(applied, rec)["records"]
    assert (native["dtBeginDate"], native["dtEndDate"]) == ("2020-01-01T07:30:00", "2020-03-01T00:00:00")


def test_an_empty_window_is_no_window_and_an_inverted_one_is_a_warning() -> None:
    rec = _record({**_seed_contact(), "dtBeginDate": "", "dtEndDate": None})
    assert rec.contact.window_begin is None and rec.contact.window_end is None
    parsed = _parse({**_seed_contact(), "dtBeginDate": "2020-03-01T00:00:00", "dtEndDate": "2020-01-01T00:00:00"})
    assert isinstance(parsed.record, ContactRecord)
    assert _codes(parsed) == [("dialler.window_inverted", "/dtEndDate")]


# --- unknown fields ------------------------------------------------------------------------------------------


def test_unknown_fields_are_warnings_and_kept_as_attributes() -> None:
    data = {**_seed_contact(), "name": "lower", "Colour": None, "nTriesPhoneNumber1": 3}
    parsed = _parse(data)
    assert isinstance(parsed.record, ContactRecord)
    assert parsed.record.contact.attributes == {"name": "lower", "Colour": None, "nTriesPhoneNumber1": 3}
    assert _codes(parsed) == [
        ("dialler.unknown_field", "/name"),
        ("dialler.unknown_field", "/Colour"),
        ("dialler.unknown_field", "/nTriesPhoneNumber1"),
    ]
    assert "did you mean 'Name'?" in parsed.warnings[0].message
    [applied] = _store(parsed.record)
    [native] = _native(applied, parsed.record)["records"]
    assert native["nTriesPhoneNumber1"] == 0 and "Colour" not in native  # the response keeps the vendor's shape


def test_unknown_fields_are_reported_on_failed_records_too() -> None:
    parsed = _parse({"overwriteDuplicates": True, "contact": {"Nmae": "typo"}})
    assert isinstance(parsed.record, Rejected)
    assert ("dialler.unknown_field", "/contact/Nmae") in _codes(parsed)


def test_many_unknown_fields_are_summarised() -> None:
    data = {**_seed_contact(), **{f"x{i}": i for i in range(60)}}
    parsed = _parse(data)
    assert isinstance(parsed.record, ContactRecord) and len(parsed.record.contact.attributes) == 60
    assert len(parsed.warnings) == 51 and parsed.warnings[-1].message.startswith("10 more unknown fields")


# --- native responses for other snapshots --------------------------------------------------------------------


def test_native_renders_snapshots_written_by_other_dialects() -> None:
    snap = {
        "user_data": "U1",
        "phones": [{"number": "111", "type": "mobile"}, {"number": "222"}, {"number": "333", "type": "PhoneNumber1"}],
        "next_call_at": "2026-05-01T10:00:00Z",
        "campaign": "538",
    }
    [record] = ADAPTER.native(_outcome(Status.ALREADY_EXISTS, snap))["records"]
    assert [record[f] for f in PHONES] == ["333", "111", "222", None, None, None]
    assert record["dtNextTry"] == "2026-05-01T10:00:00" and record["Name"] is None
    assert record["DiallerCampaignsID"] == 538


def test_native_of_a_failure_from_the_store_uses_its_first_message() -> None:
    errors = [ErrorModel(code="store.rejected", path="/", message="the database rejected the record (22001)")]
    assert ADAPTER.native(_outcome(Status.FAILED, None, errors=errors))["message"] == errors[0].message


# --- properties ----------------------------------------------------------------------------------------------


class _AnyCampaign(Catalog):
    """A catalog that knows every campaign id and name of the tenant ``acme``."""

    def campaign(self, tenant: str, campaign_id: str) -> Campaign | None:
        return Campaign(tenant, campaign_id, f"name of {campaign_id}") if tenant == "acme" else None

    def campaign_by_name(self, tenant: str, name: str) -> Campaign | None:
        return Campaign(tenant, f"id of {name}", name) if tenant == "acme" else None


ANY = _AnyCampaign(tenants={"acme"})


def _contact_of(data: dict[str, Any]) -> dict[str, Any]:
    inner = data.get("contact")
    return inner if "contact" in data and isinstance(inner, dict) else data


# Objects are composed here from the schema's own property and mandatory sub-schemas: hypothesis-jsonschema
# 0.23.1 cannot draw objects under the installed Hypothesis ('many' object has no attribute 'more'), leaf
# schemas (strings, numbers, patterns, enums) it draws fine.
DEFS: dict[str, Any] = SCHEMA.schema["$defs"]
_MANDATORY = DEFS["contact"]["allOf"]
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


def _typed(name: str) -> dict[str, Any]:
    """A field's schema from ``$defs/fields``, its ``$ref`` resolved."""
    schema: dict[str, Any] = DEFS["fields"]["properties"][name]
    ref = schema.get("$ref")
    return DEFS[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema


def _mandatory(rule: dict[str, Any]) -> list[tuple[str, st.SearchStrategy[Any]]]:
    """Each way to satisfy a mandatory rule: the field and values meeting both its type and the rule."""
    options = rule.get("anyOf", [rule])
    return [(k, from_schema({"allOf": [_typed(k), o["properties"][k]]})) for o in options for k in o["required"]]


_FIELDS = {name: from_schema(_typed(name)) for name in DEFS["fields"]["properties"]}
_NAME, _CAMPAIGNS, _PHONES = _mandatory(_MANDATORY[1])[0][1], _mandatory(_MANDATORY[2]), _mandatory(_MANDATORY[3])


@st.composite
def schema_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """Any DiallerContact the schema accepts (any field, typed as the schema says, plus unknown ones),
    bare or wrapped with any overwriteDuplicates the schema accepts."""
    contact: dict[str, Any] = draw(st.fixed_dictionaries({}, optional=_FIELDS))
    contact["Name"] = draw(_NAME)
    key, value = draw(st.sampled_from(_CAMPAIGNS))
    contact[key] = draw(value)
    key, value = draw(st.sampled_from(_PHONES))
    contact[key] = draw(value)
    unknown = st.text(min_size=1, max_size=20).filter(lambda k: k not in ACCEPTED and k != "contact")
    contact.update(draw(st.dictionaries(unknown, _JSON, max_size=3)))
    if not draw(st.booleans()):
        return contact
    wrapped: dict[str, Any] = {"contact": contact}
    if draw(st.booleans()):
        wrapped["overwriteDuplicates"] = draw(from_schema(DEFS["overwrite"]))
    return wrapped


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_valid_events())
def test_every_schema_valid_event_maps_to_the_canonical_model(data: dict[str, Any]) -> None:
    assert SCHEMA.is_valid(data)
    parsed = _parse(data, catalog=ANY)
    rec = parsed.record
    if isinstance(rec, Rejected):  # only a calendar-impossible date, which the pattern cannot express
        assert {e.code for e in rec.errors} == {"dialler.bad_datetime"}, rec.errors
        return
    assert isinstance(rec, ContactRecord)
    contact = _contact_of(data)
    assert rec.contact.name == contact["Name"]
    assert [p.type for p in rec.contact.phones] == [f for f in PHONES if str(contact.get(f) or "").strip()]
    [applied] = _store(rec)
    [native] = _native(applied, rec)["records"]
    assert native["Name"] == contact["Name"] and native["DiallerCampaignsName"] is not None
    assert set(native) == {*CONTACT_FIELDS, *STATE_FIELDS}
    unknown = {k for k in contact if k not in ACCEPTED}
    assert set(rec.contact.attributes) == unknown
    assert [p.invalid is True for p in rec.contact.phones] == [
        contact.get(INVALID_FLAGS[str(p.type)]) is True for p in rec.contact.phones
    ]
    assert {w.path for w in parsed.warnings if w.code == "dialler.unknown_field"} == {
        pointer([*(["contact"] if contact is not data else []), k]) for k in unknown
    }


_BREAK = st.sampled_from(["no_name", "no_phone", "no_campaign", "bad_type", "not_object"])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_valid_events(), _BREAK)
def test_every_schema_invalid_event_fails_with_a_code(data: dict[str, Any], how: str) -> None:
    broken = copy.deepcopy(data)
    contact = _contact_of(broken)
    if how == "no_name":
        contact.pop("Name")
    elif how == "no_phone":
        contact.update(dict.fromkeys(PHONES))
    elif how == "no_campaign":
        contact.update({"DiallerCampaignsID": None, "DiallerCampaignsName": ""})
    elif how == "bad_type":
        contact["Amount"] = "lots"
    else:
        broken = [broken]  # type: ignore[assignment]
    assert not SCHEMA.is_valid(broken)
    bad = _rejected(broken, catalog=ANY)
    assert bad.errors and all(e.code.startswith("dialler.") for e in bad.errors)
    assert ADAPTER.native(_outcome(Status.FAILED, None, errors=[ErrorModel.of(e) for e in bad.errors]))["status"] == 400
