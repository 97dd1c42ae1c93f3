"""What importWS's rules mean, through the whole pipeline (in process, real PostgreSQL, shipped defaults
unless a test names a setting): no key is invented from the phone, changepackage=skip skips a customer
already on the main table, the seeds' empty quotes are empty, and what can be checked when a file
request arrives is answered then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from tests.seed_pipeline import run_steps

HERE = Path(__file__).resolve().parent
FIELDS = {"name": "Name", "phone1": "Phone 1"}
CATALOG = {
    "tenants": ["team1"],
    "users": [{"tenant": "team1", "usertype": "agent", "login": "8001", "password": "s3cret"}],
    "campaigns": [
        {"tenant": "team1", "campaign": "C1", "name": "Plain", "fields": FIELDS},
        {"tenant": "team1", "campaign": "M1", "name": "Main A", "fields": FIELDS, "main_table": True},
        {"tenant": "team1", "campaign": "M2", "name": "Main B", "fields": FIELDS, "main_table": True},
    ],
}
PARAMS = {
    "orgidentity": "team1",
    "usertype": "agent",
    "user": "8001",
    "pwdtype": "plaintext",
    "password": "s3cret",
    "modeltype": "Campaign",
    "model_id": "C1",
    "source": "data",
    "context": "",
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


def _call(event_id: str, **params: str) -> dict[str, Any]:
    return {"id": event_id, "dialect": "importws", "data": {**PARAMS, **params}}


def _by_event(messages: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in messages:
        d = m["value"]["data"]
        out[d["event_id"] + ("#replay" if ["replay", "true"] in m["headers"] else "")] = d
    return out


async def test_a_customer_without_the_key_field_is_a_new_one(dsn: str, conn: asyncpg.Connection) -> None:
    shared = "+8613800138000"
    steps = [
        _call("joe", context=f"name=Joe||phone1={shared}"),
        _call("ann", context=f"name=Ann||phone1={shared}"),
        _call("joe", context=f"name=Joe||phone1={shared}"),  # the same event again
    ]
    got = _by_event(await run_steps(dsn, CATALOG, steps, HERE))

    assert [got[e]["status"] for e in ("joe", "ann", "joe#replay")] == ["ADDED", "ADDED", "ADDED"]
    assert {got[e]["native"] for e in ("joe", "ann")} == {"|Retuen|1|Retuen|Success"}
    keys = [got[e]["user_data"] for e in ("joe", "ann")]
    assert keys[0] != keys[1] and shared not in keys and got["joe#replay"]["user_data"] == keys[0]
    assert [w["code"] for w in got["ann"]["warnings"]] == ["importws.key_generated"]
    names = await conn.fetch("SELECT user_data, data->>'name' AS name FROM customers ORDER BY name")
    assert [(r["user_data"], r["name"]) for r in names] == [(keys[1], "Ann"), (keys[0], "Joe")]


async def test_changepackage_skip_skips_every_customer_already_on_the_main_table(
    dsn: str, conn: asyncpg.Connection
) -> None:
    def main(event_id: str, user: str, campaign: str, name: str, changepackage: str = "skip") -> dict[str, Any]:
        context = f"UserData={user}||name={name}||phone1=+44207946{user[-4:]}"
        return _call(event_id, model_id=campaign, context=context, changepackage=changepackage)

    first = [main("u0001-m1", "U0001", "M1", "One"), main("u0002-m2", "U0002", "M2", "Two")]
    await run_steps(dsn, CATALOG, first, HERE)
    await conn.execute("DELETE FROM campaign_records WHERE user_data = 'U0001'")  # in no campaign now
    await conn.execute("DELETE FROM dial_list WHERE user_data = 'U0001'")
    later = [
        main("no-campaign", "U0001", "M2", "Changed"),
        main("current", "U0002", "M2", "Changed"),
        main("unassign", "U0001", "M2", "Taken", changepackage="unassignToCurrent"),
    ]
    got = _by_event(await run_steps(dsn, CATALOG, later, HERE))

    assert [got[e]["status"] for e in ("no-campaign", "current", "unassign")] == ["SKIPPED", "SKIPPED", "ADDED"]
    assert {got[e]["native"] for e in ("no-campaign", "current", "unassign")} == {"|Retuen|1|Retuen|Success"}
    names = await conn.fetch("SELECT user_data, data->>'name' AS name FROM customers ORDER BY user_data")
    assert [(r["user_data"], r["name"]) for r in names] == [("U0001", "Taken"), ("U0002", "Two")]
    members = await conn.fetch("SELECT user_data, campaign FROM campaign_records ORDER BY user_data")
    assert [(r["user_data"], r["campaign"]) for r in members] == [("U0001", "M2"), ("U0002", "M2")]


def _file(event_id: str, url: str, **params: str) -> dict[str, Any]:
    defaults = {"source": "http", "context": url, "exetime": "0000-00-00 00:00:00", "delrow": "1", "phone_field": ""}
    return _call(event_id, **{**defaults, **params})


async def test_the_seeds_empty_quotes_are_no_login(dsn: str, conn: asyncpg.Connection) -> None:
    # the file is on a private address: this test allows private networks to get past that check
    double, single = "\u201c\u201d", "\u2018\u2019"  # seed 001 also writes source_pwd=\u201c\u201c
    steps = [
        _file("typographic", "http://192.168.1.88/xxx.csv", source_user=double, source_pwd="\u201c\u201c"),
        _file("single", "ftp://192.168.1.88/xxx.csv", source="ftp", source_user=single, source_pwd=single),
    ]
    got = _by_event(await run_steps(dsn, CATALOG, steps, HERE, import_allow_private_networks=True))

    assert [got[e]["status"] for e in ("typographic", "single")] == ["ACCEPTED", "ACCEPTED"]
    jobs = await conn.fetch("SELECT source_secret FROM import_jobs")
    assert [r["source_secret"] for r in jobs] == [None, None]


async def test_file_requests_are_checked_when_they_arrive(dsn: str, conn: asyncpg.Connection) -> None:
    steps = [
        _file("private", "http://192.168.1.88/xxx.csv"),
        _file("loopback-name", "http://localhost:8080/contacts.csv"),
        _file("pdf", "http://93.184.215.14/contacts.pdf"),
        _file("mapped", "ftp://[::ffff:10.0.0.1]/x.csv", source="ftp"),
        _file("unresolved", "http://files.invalid/contacts.csv"),  # no answer now: the fetch decides
    ]
    got = _by_event(await run_steps(dsn, CATALOG, steps, HERE))

    codes = {e: [(x["code"], x["path"]) for x in got[e]["errors"]] for e in got}
    assert codes == {
        "private": [("source.forbidden_address", "/context")],
        "loopback-name": [("source.forbidden_address", "/context")],
        "pdf": [("import.unsupported_format", "/context")],
        "mapped": [("source.forbidden_address", "/context")],
        "unresolved": [],
    }
    assert {e: got[e]["status"] for e in got} == {**dict.fromkeys(codes, "FAILED"), "unresolved": "ACCEPTED"}
    assert got["private"]["native"] == ("|Retuen|2|Retuen|192.168.1.88 is not a public address")
    assert got["pdf"]["native"] == "|Retuen|2|Retuen|unsupported file type .pdf: the file must be a .csv (or .xlsx)"
    assert await conn.fetchval("SELECT count(*) FROM import_jobs") == 1


async def test_a_scheme_the_deployment_refuses_is_answered_at_once(dsn: str, conn: asyncpg.Connection) -> None:
    # a deployment that fetches over https only (CIS_IMPORT_ALLOWED_SCHEMES)
    steps = [_file("http", "http://93.184.215.14/contacts.csv")]
    got = _by_event(await run_steps(dsn, CATALOG, steps, HERE, import_allowed_schemes="https"))

    assert [(x["code"], x["path"]) for x in got["http"]["errors"]] == [("source.scheme_not_allowed", "/context")]
    assert got["http"]["native"] == "|Retuen|2|Retuen|scheme 'http' is not allowed"
    assert await conn.fetchval("SELECT count(*) FROM import_jobs") == 0
