"""The isales adapter: the seed's own examples (golden files), every documented limit with its seed
error code and path, the two event shapes, the native response, and schema-driven property tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from service.catalog.model import Campaign, Catalog
from service.config import REPO_SCHEMAS
from service.dialects import isales_rules as rules
from service.dialects.isales import ISales
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, DialListMode, WriteMode
from service.model.envelope import Envelope
from service.model.job import ImportRequest, job_id
from service.model.outcome import Outcome, Status
from service.model.records import Parsed, Rejected
from service.pipeline import outcomes
from service.schemas import definition, load_validator
from service.store.contacts import Applied
from tests.jobs import job_for

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "isales"
ADAPTER = ISales(REPO_SCHEMAS)
SCHEMA: dict[str, Any] = orjson.loads((REPO_SCHEMAS / "isales.json").read_bytes())
CATALOG = Catalog(tenants={"acme"}, campaigns={("acme", "C-1"): Campaign("acme", "C-1", "Campaign 1")})
TEMPLATE_ROW = (GOLDEN / "template_row.seed.txt").read_text(encoding="utf-8").rstrip("\n")
SEED_CODES = set(rules.SEED_TEXT)


def _env(data: Any, tenant: str | None = "acme") -> Envelope:
    return Envelope("ev-1", "tests", "isales", data, "in", 0, 0, 0, None, tenant)


def _expand(value: Any) -> Any:
    """A golden event: ``"@file"`` is that seed file's text, ``"@merge": file`` merges its JSON object."""
    if isinstance(value, str) and value.startswith("@"):
        return (GOLDEN / value[1:]).read_text(encoding="utf-8").rstrip("\n")
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        out = {k: _expand(v) for k, v in value.items() if k != "@merge"}
        if "@merge" in value:
            out.update(orjson.loads((GOLDEN / value["@merge"]).read_bytes()))
        return out
    return value


def _golden(name: str) -> dict[str, Any]:
    expected: dict[str, Any] = orjson.loads((GOLDEN / name).read_bytes())
    return expected


def _outcome(parsed: Parsed, status: Status = Status.ADDED) -> Outcome:
    if isinstance(parsed.record, ImportRequest):  # as the processor does once it stored the job
        job = job_for(_env({}), parsed.record)
        return outcomes.build(ADAPTER, _env({}), 0, parsed, None, "2024-01-01T00:00:00.000Z", job=job)
    applied = None if isinstance(parsed.record, Rejected) else Applied(status, {}, 1, [])
    return outcomes.build(ADAPTER, _env({}), 0, parsed, applied, "2024-01-01T00:00:00.000Z")


def _rows(*rows: Any, **head: Any) -> dict[str, Any]:
    return {"vdnId": 1, "campaignId": "C-1", "rows": list(rows), **head}


def _file(**body: Any) -> dict[str, Any]:
    return {"vdnId": 1, "campaignId": "C-1", "serverId": "164690088271159234793429225848", "fileName": "a.xlsx", **body}


def _rejected(parsed: Parsed) -> Rejected:
    assert isinstance(parsed.record, Rejected), parsed.record
    return parsed.record


def _record(parsed: Parsed) -> ContactRecord:
    assert isinstance(parsed.record, ContactRecord), parsed.record
    return parsed.record


def _seed_response_keys() -> set[str]:
    return set(re.findall(r'"(\w+)":', (GOLDEN / "response_body.seed.txt").read_text(encoding="utf-8")))


# --- golden: the seed's own examples -------------------------------------------------------------


def test_golden_template_rows_map_to_the_canonical_model() -> None:
    golden = _golden("template_rows.expected.json")
    event = _expand(golden["event"])
    assert event["data"]["rows"][0]["called"] == "[{'calledNo':1234566}]"  # the seed's cell, verbatim
    parsed = ADAPTER.parse(_env(event["data"], event["tenant"]), CATALOG)
    records = [_record(p) for p in parsed]
    assert [r.model_dump(mode="json", exclude_none=True) for r in records] == golden["records"]
    assert records[0].policy.mode is WriteMode.UPDATE and records[0].policy.dial_list is DialListMode.MIRROR
    assert all(not p.warnings for p in parsed)
    native = ADAPTER.native(_outcome(parsed[0]))
    assert native == golden["native_added"]
    assert set(native) == _seed_response_keys()


def test_golden_file_import_request_is_accepted_as_an_import_job() -> None:
    golden = _golden("file_import.expected.json")
    event = _expand(golden["event"])
    assert event["data"]["fileName"] == "demogl50w.xlsx"  # the seed's request body, merged in
    parsed = ADAPTER.parse(_env(event["data"], event["tenant"]), CATALOG)
    got = [
        _outcome(p).model_dump(mode="json", include={"status", "tenant", "campaign", "errors", "native"})
        for p in parsed
    ]
    assert got == golden["outcomes"]
    assert set(got[0]["native"]) == _seed_response_keys()


def test_golden_url_parameters_are_the_event_keys_next_to_the_body() -> None:
    url = (GOLDEN / "url.seed.txt").read_text(encoding="utf-8")
    assert re.findall(r"\{(\w+)\}", url) == ["vdnId", "campaignId"]
    body = orjson.loads((GOLDEN / "request_body.seed.json").read_bytes())
    assert set(body) <= set(SCHEMA["$defs"]["fileImport"]["properties"])


def test_success_native_mirrors_the_seed_response_codes() -> None:
    seed = (GOLDEN / "response_body.seed.txt").read_text(encoding="utf-8")
    parsed = ADAPTER.parse(_env(_rows({"called": TEMPLATE_ROW})), CATALOG)[0]
    for status in (Status.ADDED, Status.UPDATED, Status.UNCHANGED):
        native = ADAPTER.native(_outcome(parsed, status))
        assert native["resultCode"] == native["returnCode"] == "0200000"
        assert f'"resultCode": "{native["resultCode"]}"' in seed and native["importTaskId"] is None
        assert native["resultDesc"] == native["returnDesc"] and native["resultDesc"]


# --- template rows: every documented limit --------------------------------------------------------

OK_ROW: dict[str, Any] = {"called": [{"calledNo": "5550001"}]}


@pytest.mark.parametrize(
    ("row", "code", "path"),
    [
        ({**OK_ROW, "sessionId": "S" * 33}, "02000003", "/rows/3/sessionId"),
        ({"sessionId": "S1"}, "02000001", "/rows/3/called"),
        ({"called": []}, "02000001", "/rows/3/called"),
        ({"called": ""}, "02000001", "/rows/3/called"),
        ({"called": 123}, "02000006", "/rows/3/called"),
        ({"called": [{"calledNo": "1" * 25}]}, "02000003", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": "12-34"}]}, "02000002", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": "123\n"}]}, "02000002", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": ""}]}, "02000001", "/rows/3/called/0/calledNo"),
        ({"called": [{"type": "mobile"}]}, "02000001", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": -1}]}, "02000007", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": 10**19}]}, "02000007", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": 1.5}]}, "02000006", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": True}]}, "02000006", "/rows/3/called/0/calledNo"),
        ({"called": [{"calledNo": "1", "delayTime": 7201}]}, "02000007", "/rows/3/called/0/delayTime"),
        ({"called": [{"calledNo": "1", "delayTime": "7201"}]}, "02000007", "/rows/3/called/0/delayTime"),
        ({"called": [{"calledNo": "1", "delayTime": -1}]}, "02000007", "/rows/3/called/0/delayTime"),
        ({"called": [{"calledNo": "1", "delayTime": "soon"}]}, "02000007", "/rows/3/called/0/delayTime"),
        ({"called": [{"calledNo": "1", "type": "t" * 65}]}, "02000003", "/rows/3/called/0/type"),
        ({"called": [{"calledNo": "1", "priority": 1}]}, "0200001", "/rows/3/called/0/priority"),
        ({**OK_ROW, "caller": "1" * 25}, "02000003", "/rows/3/caller"),
        ({**OK_ROW, "customField": "x" * 201}, "02000003", "/rows/3/customField"),
        ({**OK_ROW, "callData": "x" * 1025}, "02000003", "/rows/3/callData"),
        ({**OK_ROW, "caller": 5551234}, "02000006", "/rows/3/caller"),
        ({**OK_ROW, "recycleTime": "2023/01/01 10:00:00"}, "02000008", "/rows/3/recycleTime"),
        ({**OK_ROW, "recycleTime": "2023-01-01T10:00:00"}, "02000008", "/rows/3/recycleTime"),
        ({**OK_ROW, "recycleTime": "2023-02-30 10:00:00"}, "02000008", "/rows/3/recycleTime"),
        ({**OK_ROW, "recycleTime": "2023-02-29 10:00:00"}, "02000008", "/rows/3/recycleTime"),
        ({**OK_ROW, "priority": "1"}, "0200001", "/rows/3/priority"),
        ({"called": "not json"}, "02000008", "/rows/3/called"),
        ({"called": "{'calledNo': 1}"}, "02000008", "/rows/3/called"),
        ({"called": "[{'calledNo': __import__('os').getpid()}]"}, "02000008", "/rows/3/called"),
        ({"called": "[" * 2000 + "]" * 2000}, "02000008", "/rows/3/called"),
        ({"called": '{"calledNo": "1"}'}, "02000006", "/rows/3/called"),
        ({"called": "[{'calledNo': '12a'}]"}, "02000002", "/rows/3/called/0/calledNo"),
        ({"called": "[{'calledNo': 1, 'delayTime': 9000}]"}, "02000007", "/rows/3/called/0/delayTime"),
        ({"called": "[]"}, "02000001", "/rows/3/called"),
        ({"called": "x" * 8193}, "02000003", "/rows/3/called"),
        ("not a row", "02000006", "/rows/3"),
    ],
)
def test_a_bad_row_fails_alone_with_the_seed_code_and_path(row: Any, code: str, path: str) -> None:
    parsed = ADAPTER.parse(_env(_rows(OK_ROW, OK_ROW, OK_ROW, row, OK_ROW)), CATALOG)
    assert len(parsed) == 5
    assert [isinstance(p.record, ContactRecord) for p in parsed] == [True, True, True, False, True]
    bad = _rejected(parsed[3])
    assert (bad.errors[0].code, bad.errors[0].path) == (code, path), bad.errors
    assert bad.tenant == "acme" and bad.campaign == "C-1"
    assert bad.errors[0].message.startswith(rules.SEED_TEXT[code])
    native = ADAPTER.native(_outcome(parsed[3]))
    assert native["resultCode"] == native["returnCode"] == code
    assert native["resultDesc"] == bad.errors[0].message


def test_every_error_of_a_row_is_reported() -> None:
    row = {
        "sessionId": "S" * 33,
        "called": [{"calledNo": "1a"}],
        "caller": "1" * 25,
        "recycleTime": "2023-02-30 10:00:00",
    }
    bad = _rejected(ADAPTER.parse(_env(_rows(row)), CATALOG)[0])
    assert {(e.code, e.path) for e in bad.errors} == {
        ("02000003", "/rows/0/sessionId"),
        ("02000002", "/rows/0/called/0/calledNo"),
        ("02000003", "/rows/0/caller"),
        ("02000008", "/rows/0/recycleTime"),
    }


def test_messages_never_repeat_the_phone_number() -> None:
    row = {"called": [{"calledNo": "0049301234567890123456789"}], "caller": "0049301234567890123456789"}
    bad = _rejected(ADAPTER.parse(_env(_rows(row)), CATALOG)[0])
    assert bad.errors and all("0049301234567890" not in e.message for e in bad.errors)


def test_limits_are_inclusive() -> None:
    row = {
        "sessionId": "S" * 32,
        "called": [
            {"calledNo": "*#" + "9" * 22, "delayTime": 7200, "type": "t" * 64},
            {"calledNo": "0", "delayTime": "7200"},
            {"calledNo": 9_999_999_999_999_999_999, "delayTime": "0"},
        ],
        "caller": "1" * 24,
        "customField": "x" * 200,
        "callData": "x" * 1024,
        "recycleTime": "2024-02-29 23:59:59",
    }
    rec = _record(ADAPTER.parse(_env(_rows(row)), CATALOG)[0])
    c = rec.contact
    assert c.user_data == "S" * 32
    assert [(p.number, p.delay_s, p.type) for p in c.phones] == [
        ("*#" + "9" * 22, 7200, "t" * 64),
        ("0", 7200, None),
        ("9999999999999999999", 0, None),
    ]
    assert c.fields == {
        "caller": "1" * 24,
        "customField": "x" * 200,
        "callData": "x" * 1024,
        "recycleTime": "2024-02-29 23:59:59",
    }
    assert c.next_call_at is None  # recycleTime is when the data is withdrawn, not when to call


def test_key_is_session_id_else_the_first_called_number() -> None:
    rows = [
        {"sessionId": "S-1", "called": [{"calledNo": "111"}, {"calledNo": "222"}]},
        {"called": [{"calledNo": "333"}, {"calledNo": "444"}]},
        {"sessionId": "", "called": [{"calledNo": 555}]},
        {"sessionId": None, "called": '[{"calledNo": "666"}]'},
    ]
    keys = [_record(p).contact.user_data for p in ADAPTER.parse(_env(_rows(*rows)), CATALOG)]
    assert keys == ["S-1", "333", "555", "666"]


def test_called_may_be_an_array_a_json_string_or_the_single_quoted_template_form() -> None:
    forms = [
        [{"calledNo": "1234566", "delayTime": "30", "type": "mobile"}],
        '[{"calledNo": "1234566", "delayTime": "30", "type": "mobile"}]',
        "[{'calledNo':1234566, 'delayTime':30, 'type':'mobile'}]",
        [{"calledNo": 1234566, "delayTime": 30, "type": "mobile"}],
    ]
    parsed = ADAPTER.parse(_env(_rows(*({"called": f} for f in forms))), CATALOG)
    phones = [[ph.model_dump() for ph in _record(p).contact.phones] for p in parsed]  # each row its own path
    assert all(p == phones[0] for p in phones)
    assert [(p["number"], p["delay_s"], p["type"]) for p in phones[0]] == [("1234566", 30, "mobile")]


def test_empty_cells_are_values_not_given() -> None:
    row = {
        "sessionId": "",
        "called": [{"calledNo": "1", "delayTime": "", "type": None}],
        "caller": "",
        "callData": None,
    }
    c = _record(ADAPTER.parse(_env(_rows({**row, "customField": "", "recycleTime": ""})), CATALOG)[0]).contact
    assert c.user_data == "1" and c.fields == {}
    assert [(p.delay_s, p.type) for p in c.phones] == [(0, None)]


# --- event-level rules: tenant, campaign, shape ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "tenant", "code", "path"),
    [
        (_rows(OK_ROW, OK_ROW), None, "isales.tenant_missing", "/"),
        (_rows(OK_ROW, OK_ROW, campaignId="nope"), "acme", "02000007", "/campaignId"),
        (_rows(OK_ROW, OK_ROW), "other-tenant", "02000007", "/campaignId"),
        (_rows(OK_ROW, OK_ROW, vdnId=0), "acme", "02000007", "/vdnId"),
        (_rows(OK_ROW, OK_ROW, vdnId=10000), "acme", "02000007", "/vdnId"),
        (_rows(OK_ROW, OK_ROW, vdnId="1"), "acme", "02000006", "/vdnId"),
        ({"campaignId": "C-1", "rows": [OK_ROW, OK_ROW]}, "acme", "02000001", "/vdnId"),
        ({"vdnId": 1, "rows": [OK_ROW, OK_ROW]}, "acme", "02000001", "/campaignId"),
        (_rows(OK_ROW, OK_ROW, campaignId=""), "acme", "02000001", "/campaignId"),
        (_rows(OK_ROW, OK_ROW, campaignId="c" * 65), "acme", "02000003", "/campaignId"),
        (_rows(OK_ROW, OK_ROW, fileName="demo.xlsx"), "acme", "02000009", "/"),
        (_rows(OK_ROW, OK_ROW, batch="b1"), "acme", "0200001", "/batch"),
    ],
)
def test_event_errors_fail_every_row(data: dict[str, Any], tenant: str | None, code: str, path: str) -> None:
    parsed = ADAPTER.parse(_env(data, tenant), CATALOG)
    assert len(parsed) == 2
    for p in parsed:
        bad = _rejected(p)
        assert (bad.errors[0].code, bad.errors[0].path) == (code, path), bad.errors
        assert bad.user_data == "5550001" and bad.tenant == tenant
    native = ADAPTER.native(_outcome(parsed[0]))
    assert native["resultCode"] == (code if code in SEED_CODES else "0200001")


@pytest.mark.parametrize(
    ("rows", "code"),
    [("not rows", "02000006"), ([], "02000001"), (None, "02000006")],
)
def test_rows_must_be_a_non_empty_array(rows: Any, code: str) -> None:
    parsed = ADAPTER.parse(_env({"vdnId": 1, "campaignId": "C-1", "rows": rows}), CATALOG)
    assert len(parsed) == 1
    assert (_rejected(parsed[0]).errors[0].code, _rejected(parsed[0]).errors[0].path) == (code, "/rows")


def test_more_than_500000_rows_fail_with_02000011() -> None:
    parsed = ADAPTER.parse(_env(_rows(*[OK_ROW] * 500_001)), CATALOG)
    assert len(parsed) == 500_001
    first, last = _rejected(parsed[0]), _rejected(parsed[-1])
    assert (first.errors[0].code, first.errors[0].path) == ("02000011", "/rows")
    assert last.errors == first.errors


@pytest.mark.parametrize("data", ["a string", ["a", "list"], 42, None])
def test_data_that_is_not_an_object_fails_once(data: Any) -> None:
    parsed = ADAPTER.parse(_env(data), CATALOG)
    assert len(parsed) == 1 and _rejected(parsed[0]).errors[0].code == "02000006"


# --- the file-import request ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "path"),
    [
        (_file(hour="8"), "02000010", "/minute"),
        (_file(minute="30"), "02000010", "/hour"),
        (_file(hour="24", minute="00"), "02000007", "/hour"),
        (_file(hour=24, minute="00"), "02000007", "/hour"),
        (_file(hour="8", minute="60"), "02000007", "/minute"),
        (_file(hour="8", minute=True), "02000006", "/minute"),
        (_file(fileName=""), "02000001", "/fileName"),
        (_file(fileName="../../etc/passwd.csv"), "02000002", "/fileName"),
        (_file(fileName="demo.pdf"), "02000007", "/fileName"),
        (_file(fileName="demo"), "02000007", "/fileName"),
        (_file(fileName="demo.xlsx.zip"), "02000007", "/fileName"),
        (_file(fileName="demo.ods"), "02000007", "/fileName"),
        (_file(fileName="a/demo.pdf"), "02000002", "/fileName"),
        (_file(fileName="demo.csv\n"), "02000002", "/fileName"),
        (_file(hour="8\n", minute="00"), "02000007", "/hour"),
        (_file(fileName="n" * 252 + ".csv"), "02000003", "/fileName"),
        (_file(filePath="/isales/../../etc"), "02000002", "/filePath"),
        (_file(filePath="C:\\isales"), "02000002", "/filePath"),
        (_file(serverId=""), "02000001", "/serverId"),
        (_file(serverId="s" * 65), "02000003", "/serverId"),
        (_file(vdnId=0), "02000007", "/vdnId"),
        (_file(campaignId="nope"), "02000007", "/campaignId"),
        (_file(sftpPassword="x"), "0200001", "/sftpPassword"),
        ({"vdnId": 1, "campaignId": "C-1", "fileName": "a.csv"}, "02000001", "/serverId"),
        ({"vdnId": 1, "campaignId": "C-1"}, "02000001", "/fileName"),
    ],
)
def test_a_bad_file_import_request_fails_once_with_the_seed_code(data: dict[str, Any], code: str, path: str) -> None:
    parsed = ADAPTER.parse(_env(data), CATALOG)
    assert len(parsed) == 1
    bad = _rejected(parsed[0])
    assert (code, path) in {(e.code, e.path) for e in bad.errors}, bad.errors
    native = ADAPTER.native(_outcome(parsed[0]))
    assert native["resultCode"] == bad.errors[0].code and native["importTaskId"] is None


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"filePath": "/isales/20220310"},
        {"filePath": ""},
        {"filePath": None},
        {"hour": "0", "minute": "00"},
        {"hour": "23", "minute": "59"},
        {"hour": 8, "minute": 30},
        {"fileName": "Demo.CSV"},
        {"fileName": "demo.xls"},
        {"fileName": "DEMO.XLS"},
    ],
)
def test_a_valid_file_import_request_is_an_import_job_answered_with_its_task_id(extra: dict[str, Any]) -> None:
    parsed = ADAPTER.parse(_env(_file(**extra)), CATALOG)
    assert len(parsed) == 1
    req = parsed[0].record
    assert isinstance(req, ImportRequest), req
    body = _file(**extra)
    assert (req.tenant, req.campaign, req.source_kind, req.server_id) == ("acme", "C-1", "sftp", body["serverId"])
    assert (req.file_path, req.file_name) == (body.get("filePath") or None, body["fileName"])
    assert req.format == body["fileName"].lower().rsplit(".", 1)[1]
    hour_minute = (int(body["hour"]), int(body["minute"])) if "hour" in body else None
    assert req.schedule.hour_minute == hour_minute and req.max_rows == 500_000
    out = _outcome(parsed[0])
    assert out.status is Status.ACCEPTED and out.native["resultCode"] == "0200000"
    assert out.native["importTaskId"] == out.details["job_id"] == job_id("acme", "tests", "ev-1", 0)


def test_file_rows_map_the_template_columns_like_event_rows() -> None:
    reader = ADAPTER.rows_reader("acme", "C-1", {}, CATALOG)
    assert not isinstance(reader, ErrorDetail) and reader.header_rows == 1
    header = ["SessionId", "called", "caller", "callData", "customField", "recycleTime"]
    good = reader.parse(header, 2, ["S-1", "[{'calledNo':1234566}]", "-", "", "gold", "2026-12-31 23:59:59"])
    assert _record(good).contact.phones[0].path == "/rows/2/called/0/calledNo"  # the file's row number
    assert (
        _record(good).model_dump()
        == _record(
            ADAPTER.parse(
                _env(
                    _rows(
                        {
                            **dict(zip(header[1:], ["[{'calledNo':1234566}]"], strict=False)),
                            "sessionId": "S-1",
                            "customField": "gold",
                            "recycleTime": "2026-12-31 23:59:59",
                        }
                    )
                ),
                CATALOG,
            )[0]
        ).model_dump()
    )
    bad = _rejected(reader.parse([*header, "priority"], 5, ["S-2", "[{'calledNo':'12a'}]", "", "", "", "", "1"]))
    assert {(e.code, e.path) for e in bad.errors} == {("02000002", "/rows/5/called/0/calledNo")}
    assert reader.too_many_rows(500_000).code == "02000011"
    assert ADAPTER.rows_reader("acme", "C-9", {}, CATALOG) == rules.error(
        rules.WRONG_VALUE, "/campaignId", "The campaign 'C-9' does not exist for tenant 'acme'."
    )


SEED_HEADER = [  # Table 1 of the seed, cell by cell
    "sessionId (Optional)",
    "called (Mandatory)",
    "caller (Optional)",
    "callData (Optional)",
    "customField (Optional)",
    "recycleTime (Optional)",
]


@pytest.mark.parametrize(
    "header",
    [
        SEED_HEADER,
        [name.replace(" (", "(") for name in SEED_HEADER],
        [name.upper() + " " for name in SEED_HEADER],
        [name.replace("(", "\uff08").replace(")", "\uff09") for name in SEED_HEADER],  # full-width brackets
    ],
)
def test_file_header_cells_copied_from_the_seed_table_are_read_by_their_name(header: list[str]) -> None:
    reader = ADAPTER.rows_reader("acme", "C-1", {}, CATALOG)
    assert not isinstance(reader, ErrorDetail)
    # the seed's template row: "-" in every optional cell
    seed_row = reader.parse(header, 2, ["-", TEMPLATE_ROW, "-", "-", "-", "-"])
    assert not seed_row.warnings
    assert _record(seed_row).contact.user_data == "1234566" and _record(seed_row).contact.fields == {}
    full = _record(reader.parse(header, 3, ["S-1", TEMPLATE_ROW, "4000", '{"a":1}', "gold", "2026-12-31 23:59:59"]))
    assert full.contact.user_data == "S-1"
    assert full.contact.fields == {
        "caller": "4000",
        "callData": '{"a":1}',
        "customField": "gold",
        "recycleTime": "2026-12-31 23:59:59",
    }


def test_an_unknown_file_column_is_a_warning_and_its_value_is_not_imported() -> None:
    reader = ADAPTER.rows_reader("acme", "C-1", {}, CATALOG)
    assert not isinstance(reader, ErrorDetail)
    header = [*SEED_HEADER[:2], "priority", "Note (Optional)", "", "empty"]
    parsed = reader.parse(header, 4, ["S-1", TEMPLATE_ROW, "1", "call after 5", "x", ""])
    record = _record(parsed)
    assert record.contact.user_data == "S-1" and record.contact.fields == {}
    assert [(w.code, w.path) for w in parsed.warnings] == [
        ("isales.unknown_column", "/rows/4/priority"),
        ("isales.unknown_column", "/rows/4/Note (Optional)"),
        ("isales.unknown_column", "/rows/4/4"),  # a value under no header: named by its (0-based) column
    ]
    assert all("call after 5" not in w.message for w in parsed.warnings)  # the value is not repeated


def test_file_import_without_tenant_fails_on_the_tenant() -> None:
    bad = _rejected(ADAPTER.parse(_env(_file(), tenant=None), CATALOG)[0])
    assert [e.code for e in bad.errors] == ["isales.tenant_missing"]


# --- native response ------------------------------------------------------------------------------


def test_native_of_a_store_failure_is_the_generic_parameter_error() -> None:
    detail = ErrorDetail("store.rejected", "/", "the database rejected the record (22003)")
    native = ADAPTER.native(_outcome(Parsed(Rejected([detail], "acme", "C-1", "1"))))
    assert native == {
        "resultCode": "0200001",
        "resultDesc": detail.message,
        "importTaskId": None,
        "returnCode": "0200001",
        "returnDesc": detail.message,
    }


@pytest.mark.parametrize(
    ("detail", "code"),
    [
        (ErrorDetail("import.server_not_found", "/serverId", "no file server 'x' is registered"), "02000007"),
        (ErrorDetail("source.forbidden_address", "/serverId", "the file server's address is refused"), "0200001"),
    ],
)
def test_a_request_refused_when_it_arrives_is_answered_with_the_seed_code(detail: ErrorDetail, code: str) -> None:
    native = ADAPTER.native(_outcome(Parsed(Rejected([detail], "acme", "C-1"))))
    desc = f"{rules.SEED_TEXT[code]} {detail.message}"
    assert native == {
        "resultCode": code,
        "resultDesc": desc,
        "importTaskId": None,
        "returnCode": code,
        "returnDesc": desc,
    }


# --- properties from the published schema ----------------------------------------------------------

ROW_SCHEMA = {**SCHEMA["$defs"]["row"], "$defs": SCHEMA["$defs"]}
FILE_SCHEMA = {**SCHEMA["$defs"]["fileImport"], "$defs": SCHEMA["$defs"]}
ROW_VALID = definition(load_validator(REPO_SCHEMAS, "isales"), "row").is_valid
FILE_VALID = definition(load_validator(REPO_SCHEMAS, "isales"), "fileImport").is_valid  # for dependentRequired
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _beyond_schema(row: dict[str, Any], error: ErrorDetail, index: int) -> bool:
    """What a JSON Schema cannot say: the content of a ``called`` string, a date that does not exist."""
    called = f"/rows/{index}/called"
    in_string = isinstance(row.get("called"), str) and (error.path == called or error.path.startswith(called + "/"))
    return in_string or (error.path == f"/rows/{index}/recycleTime" and error.code == "02000008")


@PROPERTY
@given(st.lists(from_schema(ROW_SCHEMA).filter(ROW_VALID), min_size=1, max_size=3))
def test_every_schema_valid_row_becomes_a_contact_record(rows: list[dict[str, Any]]) -> None:
    parsed = ADAPTER.parse(_env(_rows(*rows)), CATALOG)
    assert len(parsed) == len(rows)
    for i, (row, p) in enumerate(zip(rows, parsed, strict=True)):
        if isinstance(p.record, Rejected):
            assert p.record.errors and all(_beyond_schema(row, e, i) for e in p.record.errors), p.record.errors
            continue
        assert isinstance(p.record, ContactRecord)
        c = p.record.contact
        assert c.user_data and c.phones and len(c.user_data) <= 32
        assert all(re.fullmatch(r"[0-9*#]{1,24}", ph.number) and 0 <= (ph.delay_s or 0) <= 7200 for ph in c.phones)
        assert set(c.fields) <= set(rules.TEMPLATE_FIELDS)


@PROPERTY
@given(from_schema(FILE_SCHEMA).filter(FILE_VALID))
def test_every_schema_valid_file_import_request_becomes_an_import_job(data: dict[str, Any]) -> None:
    catalog = Catalog(campaigns={("acme", data["campaignId"]): Campaign("acme", data["campaignId"], "n")})
    parsed = ADAPTER.parse(_env(data), catalog)
    assert len(parsed) == 1 and isinstance(parsed[0].record, ImportRequest)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ROW_KEYS = st.sampled_from(["sessionId", "called", "caller", "callData", "customField", "recycleTime", "other"])


@PROPERTY
@given(st.lists(st.dictionaries(ROW_KEYS, JSON, max_size=6) | JSON, min_size=1, max_size=4))
def test_arbitrary_rows_never_raise_and_invalid_ones_carry_seed_codes(rows: list[Any]) -> None:
    parsed = ADAPTER.parse(_env(_rows(*rows)), CATALOG)
    assert len(parsed) == len(rows)
    for row, p in zip(rows, parsed, strict=True):
        if isinstance(p.record, Rejected):
            assert p.record.errors and {e.code for e in p.record.errors} <= SEED_CODES
        else:
            assert isinstance(row, dict) and ROW_VALID(row)


@PROPERTY
@given(st.dictionaries(st.sampled_from([*FILE_SCHEMA["properties"], "rows", "x"]), JSON, max_size=8))
def test_arbitrary_events_never_raise(data: dict[str, Any]) -> None:
    parsed = ADAPTER.parse(_env(data), CATALOG)
    assert parsed and all(isinstance(p.record, Rejected | ContactRecord) for p in parsed)
    for p in parsed:
        if isinstance(p.record, Rejected):
            assert p.record.errors and all(
                e.code in SEED_CODES or e.code.startswith("isales.") for e in p.record.errors
            )


CALLED_LIST = {**SCHEMA["$defs"]["calledList"], "$defs": SCHEMA["$defs"]}


@PROPERTY
@given(from_schema(CALLED_LIST), st.booleans())
def test_a_called_array_sent_as_a_string_gives_the_same_phones(called: list[dict[str, Any]], quoted: bool) -> None:
    text = orjson.dumps(called).decode()
    if quoted:  # the template's single-quoted form, as Python writes the same list
        text = repr(called)
    parsed = ADAPTER.parse(_env(_rows({"called": called}, {"called": text})), CATALOG)
    dumps = [[ph.model_dump() for ph in _record(p).contact.phones] for p in parsed]  # paths differ: rows 0 and 1
    assert dumps[0] == dumps[1]
