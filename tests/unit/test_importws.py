"""The importws adapter: the seeds' own examples parse and answer exactly as documented (golden files);
every parameter rule, credential check, context rule and duplicate option maps as the seeds define it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.catalog import passwords
from service.catalog.model import Campaign, Catalog, StatusDef, User
from service.config import REPO_SCHEMAS
from service.dialects import default_registry
from service.dialects.importws import ImportWS
from service.dialects.importws_params import PARAMETERS, canonical, decode_query
from service.errors import ErrorDetail
from service.model.contact import ChangePackage, ContactRecord, DialListMode, MatchOn, MatchPolicy, Phone, WriteMode
from service.model.envelope import Envelope
from service.model.job import ImportRequest
from service.model.outcome import Outcome, Source, Status
from service.model.records import Parsed, Rejected
from service.pipeline import outcomes
from service.schemas import definition, load_validator, schema_errors
from service.store.contacts import Applied
from tests.jobs import job_for as _job

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "importws"
ADAPTER = ImportWS(REPO_SCHEMAS)
SCHEMA = load_validator(REPO_SCHEMAS, "importws")
SCHEMA_PARAMS = definition(SCHEMA, "params")
SEED_001 = (GOLDEN / "001_query_string.txt").read_text()
PASSWORD = "s3cret"


def _golden_catalog() -> Catalog:
    spec = orjson.loads((GOLDEN / "catalog.json").read_bytes())
    catalog = Catalog(tenants=set(spec["tenants"]))
    for u in spec["users"]:
        user = User(u["tenant"], u["usertype"], u["login"], passwords.hash_password(u["password"]))
        catalog.users[(u["tenant"], u["usertype"], u["login"])] = user
    for c in spec["campaigns"]:
        catalog.campaigns[(c["tenant"], c["campaign"])] = Campaign(**c)
    return catalog


def _catalog() -> Catalog:
    """Tenant t1: agent 8001 and account admin; C1 (own table), M1 (main table), K1 (keyed on custno)."""
    catalog = Catalog(tenants={"t1", "t2"})
    for usertype, login in (("agent", "8001"), ("account", "admin")):
        catalog.users[("t1", usertype, login)] = User("t1", usertype, login, passwords.hash_password(PASSWORD))
    fields = {"name": "Name", "phone1": "Contact1", "prio": "Dialer Priority", "dialtime": "Dialer Schedule"}
    statuses = {"7": StatusDef("7", "Sale", "SUCCESS"), "2": StatusDef("2", "Callback", None)}
    for campaign, extra in (
        ("C1", {}),
        ("M1", {"uses_main_table": True}),
        ("K1", {"key_field": "custno", "fields": {**fields, "custno": "Customer No."}}),
    ):
        args: dict[str, Any] = {"fields": fields, "statuses": statuses, **extra}
        catalog.campaigns[("t1", campaign)] = Campaign("t1", campaign, f"Campaign {campaign}", **args)
    return catalog


CATALOG = _catalog()


def _env(data: Any, tenant: str | None = None) -> Envelope:
    return Envelope("ev-1", "tests", "importws", data, "in", 0, 3, 1_700_000_000_000, None, tenant)


def _params(**changes: str) -> dict[str, str]:
    """A valid ``source=data`` call for customer U1 in campaign C1."""
    base = {
        "orgidentity": "t1",
        "usertype": "agent",
        "user": "8001",
        "pwdtype": "plaintext",
        "password": PASSWORD,
        "modeltype": "Campaign",
        "model_id": "C1",
        "source": "data",
        "context": "UserData=U1||Name=Ada||Contact1=+44 20 7946 0001",
        "source_user": "",
        "source_pwd": "",
        "exetime": "",
        "delrow": "",
        "phone_field": "phone1",
        "priority_field": "",
        "dialtime_field": "",
        "emptyagent": "no",
        "resetstatus": "no",
        "dupway": "update",
        "dupdiallist": "ignoreDuplicate",
        "changepackage": "skip",
    }
    return {**base, **changes}


def _parse(data: Any, tenant: str | None = None, catalog: Catalog = CATALOG) -> Parsed:
    parsed = ADAPTER.parse(_env(data, tenant), catalog)
    assert len(parsed) == 1
    return parsed[0]


def _record(data: Any, tenant: str | None = None) -> ContactRecord:
    rec = _parse(data, tenant).record
    assert isinstance(rec, ContactRecord), rec
    return rec


def _errors(data: Any, tenant: str | None = None, catalog: Catalog = CATALOG) -> list[ErrorDetail]:
    rec = _parse(data, tenant, catalog).record
    assert isinstance(rec, Rejected), rec
    return rec.errors


def _first(data: Any, tenant: str | None = None) -> tuple[str, str, str]:
    e = _errors(data, tenant)[0]
    return e.code, e.path, e.message


def _outcome(status: Status, errors: list[ErrorDetail] | None = None) -> Outcome:
    parsed = Parsed(Rejected(errors or [])) if status is Status.FAILED else Parsed(_record(_params()))
    applied = None if status is Status.FAILED else Applied(status, {"user_data": "U1"}, 1, [])
    return outcomes.build(ADAPTER, _env({}), 0, parsed, applied, "2026-01-01T00:00:00.000Z")


# -- golden files: the seeds' own examples ---------------------------------------------------------


def _as_json(parsed: Parsed) -> dict[str, Any]:
    rec = parsed.record
    if isinstance(rec, ContactRecord):
        body: dict[str, Any] = {"record": rec.model_dump(mode="json")}
        body["record"]["policy"]["success_statuses"] = sorted(body["record"]["policy"]["success_statuses"])
    elif isinstance(rec, ImportRequest):
        fields = {k: getattr(rec, k) for k in ("tenant", "campaign", "source_kind", "format", "url", "options")}
        body = {
            "import": {
                **fields,
                "login": rec.username is not None,
                "at": rec.schedule.at and rec.schedule.at.isoformat(),
            }
        }
    else:
        errors = [e.as_dict() for e in rec.errors]
        body = {
            "rejected": {"errors": errors, "tenant": rec.tenant, "campaign": rec.campaign, "user_data": rec.user_data}
        }
    body["warnings"] = [w.as_dict() for w in parsed.warnings]
    return body


def _golden_result(case: Path) -> dict[str, Any]:
    data = case.read_text() if case.suffix == ".txt" else orjson.loads(case.read_bytes())
    env = _env(data)
    parsed = ADAPTER.parse(env, GOLDEN_CATALOG)
    results = []
    for i, p in enumerate(parsed):
        if isinstance(p.record, ImportRequest):  # the job the processor stores for it
            out = outcomes.build(ADAPTER, env, i, p, None, "2026-01-01T00:00:00.000Z", job=_job(env, p.record))
        else:
            applied = Applied(Status.ADDED, {}, 1, []) if isinstance(p.record, ContactRecord) else None
            out = outcomes.build(ADAPTER, env, i, p, applied, "2026-01-01T00:00:00.000Z")
        results.append({**_as_json(p), "status": out.status.value, "native": out.native})
    return {"records": results}


GOLDEN_CATALOG = _golden_catalog()
CASES = sorted(
    p
    for p in GOLDEN.iterdir()
    if p.suffix in (".txt", ".json")
    and p.stem.startswith(("000_", "001_"))
    and not any(kind in p.name for kind in (".expected", ".pipeline", ".outcomes"))
)


def test_golden_cases_cover_the_seeds_examples() -> None:
    assert {p.name for p in CASES} >= {
        "001_query_string.txt",
        "001_query_string_blank_fields.txt",
        "000_context_data.json",
        "001_context_data.json",
        "001_source_http.json",
        "001_source_ftp.json",
    }
    seed_lines = {p.read_text().strip() for p in CASES if p.suffix == ".txt"}
    assert any("& model_id=model_id" in line and "phone_field=&" in line for line in seed_lines)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden(case: Path) -> None:
    expected = orjson.loads(case.with_name(case.stem + ".expected.json").read_bytes())
    assert _golden_result(case) == expected


def test_seed_001_query_string_decodes_every_parameter_with_blank_values_and_spaced_names() -> None:
    text = (GOLDEN / "001_query_string_blank_fields.txt").read_text()
    pairs, errors = decode_query(text)
    params, errors2, warnings = canonical(pairs)
    assert errors == errors2 == warnings == []
    assert list(params) == ["EVENT", *PARAMETERS]
    assert params["model_id"] == "model_id" and params["delrow"] == "delrow" and params["dupway"] == "dupway"
    assert params["phone_field"] == params["priority_field"] == params["dialtime_field"] == ""
    assert params["changepackage"] == "changepackage"


def test_seed_001_with_real_credentials_reports_every_placeholder_value_in_parameter_order() -> None:
    """The seed's call string with only the login filled in: every remaining placeholder is an invalid value."""
    text = SEED_001.replace("orgidentity=orgidentity", "orgidentity=t1").replace("usertype=usertype", "usertype=agent")
    text = text.replace("user=user", "user=8001").replace("pwdtype=pwdtype", "pwdtype=plaintext")
    text = text.replace("password=password", f"password={PASSWORD}")
    errors = _errors(text)
    assert [(e.code, e.path) for e in errors] == [
        ("importws.bad_value", f"/{name}")
        for name in ("modeltype", "source", "emptyagent", "resetstatus", "dupway", "dupdiallist", "changepackage")
    ]
    assert errors[0].message == "modeltype must be Campaign"


# -- the two input forms ---------------------------------------------------------------------------


def test_json_object_and_query_string_give_the_same_record() -> None:
    as_json = _parse(_params())
    as_text = _parse("EVENT=Import&" + urlencode(_params()))
    assert as_json == as_text
    assert isinstance(as_json.record, ContactRecord)


def test_query_string_tolerates_spaced_names_any_case_a_leading_question_mark_and_a_trailing_newline() -> None:
    pairs = urlencode(_params()).split("&")
    text = "?EVENT=import&" + "& ".join(p.split("=", 1)[0].upper() + "=" + p.split("=", 1)[1] for p in pairs) + "\n"
    assert _record(text).contact.user_data == "U1"


def test_plus_in_a_query_string_must_be_percent_encoded() -> None:
    encoded = _record("EVENT=Import&" + urlencode(_params(context="UserData=U1||Contact1=+4420")))
    assert encoded.contact.phones[0].number == "+4420"
    raw = "EVENT=Import&" + urlencode(_params(context="X")).replace("context=X", "context=UserData=U1||Contact1=+4420")
    assert _record(raw).contact.phones[0].number == "4420"  # a bare '+' decodes to a space


def test_repeated_unknown_and_excess_parameters() -> None:
    twice = "EVENT=Import&" + urlencode(_params()) + "&dupway=skip"
    assert _first(twice) == ("importws.duplicate_parameter", "/dupway", "parameter dupway is given more than once")
    extra = _parse({**_params(), "callback": "x"})
    assert isinstance(extra.record, ContactRecord)
    assert [w.code for w in extra.warnings] == ["importws.unknown_parameter"]
    assert _first("&".join(f"p{i}=1" for i in range(101)))[0] == "importws.bad_event"


@pytest.mark.parametrize("data", [None, 42, ["EVENT=Import"], True])
def test_data_that_is_neither_an_object_nor_a_string_fails(data: Any) -> None:
    assert _first(data)[:2] == ("importws.bad_event", "/")


# -- every parameter must be present ----------------------------------------------------------------


@pytest.mark.parametrize("name", PARAMETERS)
@pytest.mark.parametrize("form", ["json", "query"])
def test_a_missing_parameter_fails_naming_it(name: str, form: str) -> None:
    params = {k: v for k, v in _params().items() if k != name}
    data: Any = params if form == "json" else "EVENT=Import&" + urlencode(params)
    code, path, message = _first(data)
    assert (code, path) == ("importws.missing_parameter", f"/{name}")
    assert message == f"parameter {name} is missing (send an empty string for no value)"


def test_every_missing_parameter_is_listed_and_checked_before_the_credentials() -> None:
    errors = _errors({"orgidentity": "nobody"})
    assert [e.path for e in errors] == [f"/{n}" for n in PARAMETERS if n != "orgidentity"]


def test_empty_strings_stand_for_no_value() -> None:
    rec = _record(_params(phone_field="", emptyagent="", resetstatus="", dupway="", dupdiallist="", changepackage=""))
    assert rec.contact.phones == []
    assert rec.policy.mode is WriteMode.KEEP and rec.policy.dial_list is DialListMode.IGNORE_DUPLICATE
    assert not rec.policy.reset_agent and not rec.policy.reset_status


def test_a_value_that_is_not_a_string_fails() -> None:
    assert _first({**_params(), "delrow": 1}) == ("importws.wrong_type", "/delrow", "parameter delrow must be a string")


def test_event_must_be_import() -> None:
    assert _first({**_params(), "EVENT": "Delete"}) == ("importws.unsupported_event", "/EVENT", "EVENT must be Import")
    assert isinstance(_parse({**_params(), "EVENT": "IMPORT"}).record, ContactRecord)


# -- tenant and credentials ------------------------------------------------------------------------


def test_plaintext_and_md5_passwords_in_any_case() -> None:
    md5 = hashlib.md5(PASSWORD.encode()).hexdigest()
    assert _record(_params(pwdtype="PlainText")).tenant == "t1"
    assert _record(_params(pwdtype="md5", password=md5)).tenant == "t1"
    assert _record(_params(pwdtype="MD5", password=md5.upper(), usertype="Account", user="admin")).tenant == "t1"


@pytest.mark.parametrize(
    "changes",
    [
        {"password": "wrong"},
        {"user": "9999"},
        {"usertype": "account"},  # 8001 is an agent, not an account
        {"usertype": "usertype"},
        {"pwdtype": "md5"},  # the plaintext password given as if it were an MD5
        {"pwdtype": "sha1"},
        {"password": ""},
    ],
)
def test_a_wrong_login_fails_without_saying_which_part_is_wrong(changes: dict[str, str]) -> None:
    errors = _errors(_params(**changes, dupway="maybe"))  # a bad option value is not revealed either
    assert [e.as_dict() for e in errors] == [{"code": "auth.failed", "path": "/", "message": "authentication failed"}]


def test_tenant_must_be_known_and_agree_with_the_event_attribute() -> None:
    assert _first(_params(orgidentity="nobody"))[:2] == ("importws.tenant_unknown", "/orgidentity")
    assert _first(_params(), tenant="t2")[:2] == ("importws.tenant_mismatch", "/orgidentity")
    assert _record(_params(), tenant="t1").tenant == "t1"


# -- values, campaign and source -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("modeltype", "Model", "modeltype must be Campaign"),
        ("source", "file", "source must be data, http or ftp"),
        ("emptyagent", "true", "emptyagent must be yes or no"),
        ("resetstatus", "1", "resetstatus must be yes or no"),
        ("dupway", "replace", "dupway must be update or skip"),
        ("dupdiallist", "none", "dupdiallist must be ignoreDuplicate, all or ignoreSuccess"),
        ("changepackage", "move", "changepackage must be skip, unassignToCurrent or reassignToCurrent"),
    ],
)
def test_an_invalid_option_value_fails_naming_the_parameter(name: str, value: str, message: str) -> None:
    assert _first(_params(**{name: value})) == ("importws.bad_value", f"/{name}", message)


def test_modeltype_is_campaign_in_any_case_and_the_campaign_must_exist() -> None:
    assert _record(_params(modeltype="CAMPAIGN")).campaign == "C1"
    assert _first(_params(model_id="C9")) == ("importws.campaign_not_found", "/model_id", "campaign 'C9' not found")


@pytest.mark.parametrize(
    "changes",
    [
        {"source": "http", "context": "http://192.168.1.88/xxx.csv", "exetime": "", "delrow": "1"},
        {"source": "HTTP", "context": "https://files.example/a.csv", "exetime": "null", "delrow": ""},
        {"source": "ftp", "context": "ftp://192.168.1.88/xxx.csv", "exetime": "0000-00-00 00:00:00", "delrow": "0"},
        {"source": "ftp", "context": "http://192.168.1.88/xxx.csv", "exetime": "2026-05-01 08:00:00", "delrow": "2"},
    ],
)
def test_file_imports_become_import_requests_answered_with_the_job_id(changes: dict[str, str]) -> None:
    parsed = _parse(_params(**changes, source_user="fileuser", source_pwd="filepwd"))
    req = parsed.record
    assert isinstance(req, ImportRequest), req
    assert (req.tenant, req.campaign, req.format, req.url) == ("t1", "C1", "csv", changes["context"])
    assert req.source_kind == ("ftp" if changes["context"].startswith("ftp") else "http")
    assert req.username == "fileuser" and req.password is not None and req.password.get_secret_value() == "filepwd"
    assert "filepwd" not in repr(req)
    exetime = changes["exetime"]
    # exetime is a local time in the campaign's zone; this catalog sets none: UTC
    assert req.schedule.at == (datetime(2026, 5, 1, 8, tzinfo=UTC) if exetime.startswith("2026") else None)
    assert req.schedule.zone == "UTC"
    assert req.options["delrow"] == int(changes["delrow"] or 0) and req.options["dupway"] == "update"
    accepted = Outcome(
        outcome_id="o",
        event_id="ev-1",
        record_index=0,
        dialect="importws",
        status=Status.ACCEPTED,
        details={"job_id": "J-1"},
        source=Source(topic="in", partition=0, offset=3),
        received_at="",
        processed_at="",
    )
    assert ADAPTER.native(accepted) == "|Retuen|1|Retuen|J-1"


def test_a_url_that_cannot_be_split_is_a_bad_context() -> None:
    assert _first(_params(source="http", context="http://[files/a.csv"))[:2] == ("importws.bad_value", "/context")


def test_credentials_in_the_url_are_moved_out_of_it() -> None:
    req = _parse(_params(source="http", context="http://u%40x:p%3Aw@files.example:8080/a.csv?x=1")).record
    assert isinstance(req, ImportRequest)
    assert req.url == "http://files.example:8080/a.csv?x=1" and req.username == "u@x"
    assert req.password is not None and req.password.get_secret_value() == "p:w"


def test_a_file_row_maps_its_columns_like_context_names() -> None:
    reader = ADAPTER.rows_reader("t1", "C1", {"delrow": 1, "phone_field": "Contact1", "dupway": "update"}, CATALOG)
    assert not isinstance(reader, ErrorDetail) and reader.header_rows == 1
    parsed = reader.parse(["UserData", "Name", "Contact1", "Tier", ""], 7, ["U7", "Ada", "+44 20 1234", "gold", "x"])
    rec = parsed.record
    assert isinstance(rec, ContactRecord)
    assert rec.contact.user_data == "U7" and rec.contact.name == "Ada" and rec.contact.attributes == {"Tier": "gold"}
    assert [p.number for p in rec.contact.phones] == ["+44201234"]
    # an undialable number is the pipeline's to flag, and its warning points at the row
    odd = reader.parse(["UserData", "Contact1"], 9, ["U9", "not a phone"]).record
    assert isinstance(odd, ContactRecord)
    assert [(p.number, p.path) for p in odd.contact.phones] == [("notaphone", "/rows/9")]
    assert ADAPTER.rows_reader("t1", "C9", {}, CATALOG) == ErrorDetail(
        "importws.campaign_not_found", "/model_id", "campaign 'C9' not found"
    )
    assert ADAPTER.rows_reader("t1", "C1", {"delrow": 3}, CATALOG).header_rows == 3  # type: ignore[union-attr]


def test_a_file_row_without_the_key_field_is_keyed_by_its_job_and_row_never_its_phone() -> None:
    def key(job: str, number: int) -> str:
        reader = ADAPTER.rows_reader("t1", "C1", {"phone_field": "Contact1", "job_id": job}, CATALOG)
        assert not isinstance(reader, ErrorDetail)
        parsed = reader.parse(["Name", "Contact1"], number, ["Ada", "+44 20 7946 0001"])
        assert isinstance(parsed.record, ContactRecord), parsed.record
        assert [(w.code, w.path) for w in parsed.warnings] == [("importws.key_generated", f"/rows/{number}")]
        return parsed.record.contact.user_data

    keys = {key("J1", 2), key("J1", 3), key("J2", 2)}
    assert len(keys) == 3 and all(k.startswith("auto-") for k in keys)
    assert key("J1", 2) == key("J1", 2)  # a job resumed after a crash reads the same row as the same customer


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"source": "http", "context": "ftp://h/x.csv"}, "/context"),
        ({"source": "http", "context": "UserData=U1"}, "/context"),
        ({"source": "ftp", "context": "ftp://h/x.csv", "exetime": "tomorrow"}, "/exetime"),
        ({"source": "ftp", "context": "ftp://h/x.csv", "delrow": "first"}, "/delrow"),
    ],
)
def test_file_import_parameters_are_validated(changes: dict[str, str], path: str) -> None:
    assert _first(_params(**changes))[:2] == ("importws.bad_value", path)


def test_file_parameters_are_ignored_for_source_data() -> None:
    assert _record(_params(exetime="whenever", delrow="delrow", source_user="u", source_pwd="p")).campaign == "C1"


# -- the context -----------------------------------------------------------------------------------


def test_context_maps_display_and_field_names_and_keeps_unknown_names_as_attributes() -> None:
    parsed = _parse(_params(context="UserData=U1||name=Ada||Contact1=0044 20||note=a=b||Tier=gold||", phone_field=""))
    rec = parsed.record
    assert isinstance(rec, ContactRecord)
    assert rec.contact.user_data == "U1" and rec.contact.name == "Ada"
    assert rec.contact.fields == {"name": "Ada", "phone1": "0044 20"}  # field names, values as given
    assert rec.contact.attributes == {"note": "a=b", "Tier": "gold"}  # split at the first '='
    assert [(w.code, w.path) for w in parsed.warnings] == [("importws.unknown_field", "/context")] * 2
    assert "'Tier' is not a field of campaign C1" in parsed.warnings[1].message


def test_context_values_are_strings() -> None:
    rec = _record(_params(context="UserData=007||prio=5||Name= Ada Lovelace ", phone_field=""))
    assert rec.contact.user_data == "007"
    assert rec.contact.fields == {"prio": "5", "name": "Ada Lovelace"}


@pytest.mark.parametrize(
    ("context", "code"),
    [
        ("UserData=U1||Ada", "importws.bad_context"),
        ("UserData=U1||=Ada", "importws.bad_context"),
        ("UserData=U1||Name=A||name=B", "importws.duplicate_field"),
        ("UserData=U1||tier=a||Tier=b", "importws.duplicate_field"),
    ],
)
def test_malformed_context_fails(context: str, code: str) -> None:
    assert _first(_params(context=context, phone_field=""))[:2] == (code, "/context")


def test_key_is_the_key_field_else_one_derived_from_the_event_never_the_phone() -> None:
    assert _record(_params(context="UserData=U1||Contact1=+4420")).contact.user_data == "U1"
    keyed = _record(_params(model_id="K1", context="Customer No.=C-77||Contact1=+4420"))
    assert keyed.contact.user_data == "C-77" and keyed.contact.fields["custno"] == "C-77"
    for params in (_params(context="Contact1=+44 (20) 7946-0001"), _params(context="Name=Ada", phone_field="")):
        parsed = _parse(params)
        assert isinstance(parsed.record, ContactRecord)
        key = parsed.record.contact.user_data
        assert key.startswith("auto-") and key == _record(params).contact.user_data  # the same event, the same key
        assert [(w.code, w.path) for w in parsed.warnings] == [("importws.key_generated", "/context")]
        assert (
            parsed.warnings[0].message == f"no value for the key field UserData: the customer is a new one, keyed {key}"
        )


def test_without_a_key_a_campaign_matching_on_the_phone_leaves_the_key_to_the_store() -> None:
    catalog = _catalog()
    c1 = catalog.campaigns[("t1", "C1")]
    catalog.campaigns[("t1", "C1")] = replace(c1, match=MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE))
    rec = _parse(_params(context="Name=Ada||Contact1=+44 (20) 7946-0001"), catalog=catalog).record
    assert isinstance(rec, ContactRecord) and rec.contact.user_data == ""
    assert rec.contact.phones[0].number == "+442079460001"
    given = _parse(_params(context="UserData=U1||Contact1=+4420"), catalog=catalog).record
    assert isinstance(given, ContactRecord) and given.contact.user_data == "U1"
    none = _parse(_params(context="Name=Ada||Contact1=+4420", phone_field=""), catalog=catalog).record
    assert isinstance(none, Rejected) and none.errors[0].code == "importws.missing_key"


def test_a_field_named_name_in_any_case_is_the_contact_name() -> None:
    campaign = Campaign("t1", "N1", "N1", fields={"NAME": "Customer", "phone1": "Phone"})
    catalog = _catalog()
    catalog.campaigns[("t1", "N1")] = campaign
    rec = ADAPTER.parse(_env(_params(model_id="N1", context="UserData=U1||Customer=Bo")), catalog)[0].record
    assert isinstance(rec, ContactRecord) and rec.contact.name == "Bo" and rec.contact.fields == {"NAME": "Bo"}


# -- the dial list ---------------------------------------------------------------------------------


def test_phone_priority_and_dial_time_feed_the_dial_list_by_field_or_display_name() -> None:
    context = "UserData=U1||Contact1=+44 20 7946 0001||prio=5||Dialer Schedule=2026-03-01 09:30:00"
    rec = _record(
        _params(context=context, phone_field="Contact1", priority_field="Dialer Priority", dialtime_field="dialtime")
    )
    assert rec.contact.phones == [
        Phone(
            number="+442079460001",
            priority=5,
            dial_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            dial_zone="UTC",
            path="/context",
        )
    ]  # a local time in the campaign's zone; this catalog sets none: UTC
    assert (
        rec.contact.fields["phone1"] == "+44 20 7946 0001" and rec.contact.fields["dialtime"] == "2026-03-01 09:30:00"
    )


def test_a_phone_field_the_campaign_does_not_know_reads_the_custom_attribute() -> None:
    rec = _record(_params(context="UserData=U1||Mobile=+4477", phone_field="mobile"))
    assert rec.contact.phones[0].number == "+4477" and rec.contact.attributes == {"Mobile": "+4477"}


@pytest.mark.parametrize("value", ["", "NULL", "0000-00-00 00:00:00"])
def test_no_dial_time(value: str) -> None:
    rec = _record(_params(context=f"UserData=U1||Contact1=+4420||dialtime={value}", dialtime_field="dialtime"))
    assert rec.contact.phones[0].dial_at is None


@pytest.mark.parametrize(
    ("context", "code", "message"),
    [
        ("UserData=U1||Contact1=+4420||prio=high", "importws.bad_priority", "the priority_field prio value must be"),
        ("UserData=U1||Contact1=+4420||prio=-1", "importws.bad_priority", "the priority_field prio value must be"),
        ("UserData=U1||Contact1=+4420||prio=1000001", "importws.bad_priority", "the priority_field prio value must be"),
        ("UserData=U1||Contact1=+4420||dialtime=2026-02-30 10:00:00", "importws.bad_dialtime", "the dialtime_field"),
        ("UserData=U1||Contact1=+4420||dialtime=2026-03-01T10:00", "importws.bad_dialtime", "the dialtime_field"),
    ],
)
def test_invalid_dial_list_values_fail_with_code_and_path(context: str, code: str, message: str) -> None:
    data = _params(context=context, priority_field="prio", dialtime_field="dialtime")
    got_code, path, got_message = _first(data)
    assert (got_code, path) == (code, "/context") and got_message.startswith(message)
    rejected = _parse(data).record
    assert isinstance(rejected, Rejected) and rejected.user_data == "U1"


def test_no_phone_value_imports_the_customer_without_a_dial_list_entry_and_warns() -> None:
    parsed = _parse(_params(context="UserData=U1||Name=Ada"))
    assert isinstance(parsed.record, ContactRecord) and parsed.record.contact.phones == []
    assert [w.code for w in parsed.warnings] == ["importws.no_phone"]


# -- the duplicate options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"dupway": "update"}, {"mode": WriteMode.UPDATE}),
        ({"dupway": "SKIP"}, {"mode": WriteMode.KEEP}),
        ({"emptyagent": "yes"}, {"reset_agent": True}),
        ({"emptyagent": "No"}, {"reset_agent": False}),
        ({"resetstatus": "YES"}, {"reset_status": True}),
        ({"resetstatus": "no"}, {"reset_status": False}),
        ({"dupdiallist": "ignoreDuplicate"}, {"dial_list": DialListMode.IGNORE_DUPLICATE}),
        ({"dupdiallist": "ALL"}, {"dial_list": DialListMode.ALL}),
        ({"dupdiallist": "ignoresuccess"}, {"dial_list": DialListMode.IGNORE_SUCCESS}),
        ({"model_id": "M1", "changepackage": "skip"}, {"change_package": ChangePackage.SKIP}),
        (
            {"model_id": "M1", "changepackage": "unassignToCurrent"},
            {"change_package": ChangePackage.UNASSIGN_TO_CURRENT},
        ),
        (
            {"model_id": "M1", "changepackage": "reassignToCurrent"},
            {"change_package": ChangePackage.REASSIGN_TO_CURRENT},
        ),
        (
            {"model_id": "C1", "changepackage": "reassignToCurrent"},
            {"change_package": None},
        ),  # not a main-table campaign
    ],
)
def test_duplicate_options_map_to_the_policy(changes: dict[str, str], expected: dict[str, Any]) -> None:
    policy = _record(_params(**changes)).policy
    assert {k: getattr(policy, k) for k in expected} == expected


def test_ignore_success_uses_the_campaigns_success_statuses() -> None:
    policy = _record(_params(dupdiallist="ignoreSuccess")).policy
    assert {"success", "success submit", "sale", "7"} <= policy.success_statuses
    assert "callback" not in policy.success_statuses


# -- the native response ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [Status.ADDED, Status.UPDATED, Status.UNCHANGED, Status.SKIPPED, Status.ALREADY_EXISTS]
)
def test_native_success(status: Status) -> None:
    assert _outcome(status).native == "|Retuen|1|Retuen|Success"


def test_native_failure_carries_the_first_reason() -> None:
    errors = [ErrorDetail("auth.failed", "/", "authentication failed"), ErrorDetail("x", "/", "second")]
    assert _outcome(Status.FAILED, errors).native == "|Retuen|2|Retuen|authentication failed"
    assert _outcome(Status.FAILED).native == "|Retuen|2|Retuen|import failed"
    odd = [ErrorDetail("x", "/", "a|b\nc")]
    assert _outcome(Status.FAILED, odd).native == "|Retuen|2|Retuen|a/b c"  # the response stays four fields


def test_registry_names_and_text_input() -> None:
    registry = default_registry(REPO_SCHEMAS)
    assert registry.resolve("importws") == registry.resolve("contact-import.importws.v1") == "importws"
    assert registry.resolve("importWS") == "importws"
    assert registry.accepts_text("importws") is True


# -- properties ------------------------------------------------------------------------------------

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARAMS_SCHEMA = SCHEMA.schema["$defs"]["params"]
CODE_PREFIXES = ("importws.", "auth.")


@st.composite
def schema_valid_params(draw: st.DrawFn) -> dict[str, Any]:
    """The ``params`` schema's objects: hypothesis-jsonschema generates the properties (it filters an
    if/then far too slowly), the schema's own http/ftp rules are then drawn from their patterns."""
    unconditional = {k: v for k, v in PARAMS_SCHEMA.items() if k != "allOf"}
    drawn = draw(from_schema({**unconditional, "$defs": SCHEMA.schema["$defs"]}))
    assert isinstance(drawn, dict)
    params: dict[str, Any] = drawn
    for rule in PARAMS_SCHEMA["allOf"]:
        if re.fullmatch(rule["if"]["properties"]["source"]["pattern"], params["source"]):
            for name, sub in rule["then"]["properties"].items():
                pattern = _resolved(sub)["pattern"]
                params[name] = draw(st.from_regex(pattern, fullmatch=True).filter(lambda v: len(v) <= 64))
    assert SCHEMA.is_valid(params)
    return params


def _resolved(sub: dict[str, Any]) -> dict[str, Any]:
    ref = sub.get("$ref")
    return SCHEMA.schema["$defs"][ref.rsplit("/", 1)[1]] if isinstance(ref, str) else sub


EVENT_DATA = st.one_of(
    schema_valid_params(), schema_valid_params().map(urlencode), from_schema(SCHEMA.schema["$defs"]["query"])
)


@PROPS
@given(EVENT_DATA)
def test_every_schema_valid_event_parses_to_one_record_or_a_coded_failure(data: Any) -> None:
    parsed = ADAPTER.parse(_env(data), CATALOG)
    assert len(parsed) == 1
    rec = parsed[0].record
    if isinstance(rec, Rejected):
        assert rec.errors and all(e.code.startswith(CODE_PREFIXES) and e.path.startswith("/") for e in rec.errors)


SAFE_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda n: n != "userdata")
SAFE_VALUE = st.text(st.characters(blacklist_characters="|", blacklist_categories=["Cs"]), max_size=20)
LOGIN = {"orgidentity": "t1", "usertype": "agent", "user": "8001", "pwdtype": "plaintext", "password": PASSWORD}


@PROPS
@given(
    schema_valid_params(),
    st.sampled_from(["C1", "M1"]),
    st.text(st.characters(whitelist_categories=["L", "N"]), min_size=1, max_size=20),
    st.dictionaries(SAFE_NAME | st.sampled_from(["Name", "phone1", "Dialer Priority"]), SAFE_VALUE, max_size=5),
)
def test_every_schema_valid_data_import_by_a_known_user_maps_to_the_canonical_model(
    data: dict[str, Any], campaign: str, key: str, extra: dict[str, str]
) -> None:
    """Any option values the schema allows, any context of field=value items: a record keyed on UserData."""
    context = "||".join([f"UserData={key}", *(f"{k}={v}" for k, v in extra.items())])
    no_dial = {"phone_field": "", "priority_field": "", "dialtime_field": ""}
    params = {**data, **LOGIN, **no_dial, "model_id": campaign, "source": "data", "context": context}
    assert SCHEMA.is_valid(params)
    camp = CATALOG.campaigns[("t1", campaign)]
    distinct = len({camp.field_name(k) or k.lower() for k in extra}) == len(extra)
    for form in (params, urlencode(params)):
        rec = _parse(form).record
        if not distinct:
            assert isinstance(rec, Rejected) and {e.code for e in rec.errors} == {"importws.duplicate_field"}
            continue
        assert isinstance(rec, ContactRecord), rec
        assert (rec.tenant, rec.campaign, rec.contact.user_data) == ("t1", campaign, key)
        assert (rec.policy.change_package is None) == (campaign == "C1")
        assert set(rec.contact.fields) <= set(camp.fields)
        assert len(rec.contact.fields) + len(rec.contact.attributes) == len(extra)
        assert all(isinstance(v, str) for v in (*rec.contact.fields.values(), *rec.contact.attributes.values()))


DROP = object()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@PROPS
@given(schema_valid_params(), st.sampled_from(["EVENT", *PARAMETERS]), JSON | st.just(DROP))
def test_a_schema_invalid_parameter_fails_with_a_code_naming_it(data: dict[str, Any], name: str, value: Any) -> None:
    params = {**data, **LOGIN, "model_id": "C1"}
    if value is DROP:
        params.pop(name, None)
    else:
        params[name] = value
    rec = _parse(params).record
    if SCHEMA.is_valid(params):
        assert isinstance(rec, ContactRecord | Rejected | ImportRequest)  # a valid value: see the properties above
        return
    assert isinstance(rec, Rejected) and rec.errors
    assert all(e.code.startswith(CODE_PREFIXES) for e in rec.errors)
    if name not in LOGIN:  # the login is right, so the schema's complaint is what the caller hears
        wrong = {"/" + e.path.split("/")[1] for e in schema_errors(SCHEMA_PARAMS, params)}
        assert wrong & {e.path for e in rec.errors}, (wrong, rec.errors)
