"""The vendors' local times end to end: read in the campaign's time zone, else the tenant's (kept in the
catalog by ``tenant add --timezone`` / ``campaign add --timezone``), else UTC; stored and reported as the
UTC instant with the zone it was read in; the native responses unchanged. A real service process, broker
and Postgres; the shipped defaults (CIS_IMPORT_TIMEZONE is UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from service.model.job import job_id
from service.store.file_servers import FileServer, add_file_server
from tests.jobs import job_settings
from tests.support import ServiceProcess, cloudevent, contact, contacts_event, outcomes, produce, run_cli


def _tenant_event(data: dict[str, Any], dialect: str, event_id: str, tenant: str) -> dict[str, Any]:
    event = cloudevent(data, dialect=dialect, event_id=event_id)
    event["tenant"] = tenant
    return event


def test_the_catalog_cli_keeps_and_checks_time_zones(dsn: str) -> None:
    run_cli(dsn, "tenant", "add", "tz-cli", "--timezone", "Europe/Warsaw")
    run_cli(dsn, "campaign", "add", "tz-cli", "C1", "--timezone", "Asia/Shanghai")
    run_cli(dsn, "campaign", "add", "tz-cli", "C2")
    shown = orjson.loads(run_cli(dsn, "catalog", "show", "--json").stdout)
    assert shown["tenant_timezones"]["tz-cli"] == "Europe/Warsaw"
    zones = {c["campaign"]: c["timezone"] for c in shown["campaigns"] if c["tenant"] == "tz-cli"}
    assert zones == {"C1": "Asia/Shanghai", "C2": None}  # C2 reads its times in the tenant's zone
    for args in (("tenant", "add", "tz-bad"), ("campaign", "add", "tz-cli", "C3")):
        refused = run_cli(dsn, *args, "--timezone", "Mars/Base", ok=False)
        assert refused.returncode != 0 and "unknown time zone 'Mars/Base'" in refused.stderr
    shown = orjson.loads(run_cli(dsn, "catalog", "show", "--json").stdout)
    assert "tz-bad" not in shown["tenants"] and "C3" not in {c["campaign"] for c in shown["campaigns"]}


async def test_thulium_next_call_date_is_warsaw_time_for_a_polish_tenant(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, dsn: str
) -> None:
    tenant = "pl-system"
    run_cli(dsn, "tenant", "add", tenant, "--timezone", "Europe/Warsaw")
    run_cli(dsn, "campaign", "add", tenant, "00001")
    run_cli(dsn, "status", "add", tenant, "00001", "9", "--name", "Later", "--system", "CALL_NO_SOONER_THAN")
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    customers = [contact(str(n), phone=f"+4822123456{n % 10}") for n in (441, 445, 448)]
    await produce(settings, [contacts_event(tenant, customers, campaign="crm", event_id="crm")])
    assert [o["status"] for o in await outcomes(settings, expect=3)] == ["ADDED"] * 3

    records = [
        {"customer_id": 441, "status_id": 9, "next_call_date": "2018-05-24 12:24"},  # the seed's example: CEST
        {"customer_id": 445, "status_id": 9, "next_call_date": "2026-01-15 09:00"},  # winter: CET
        {"customer_id": 448, "status_id": 9, "next_call_date": "2026-03-29 02:30"},  # the clocks skip 02:00-03:00
    ]
    await produce(settings, [_tenant_event({"id": "00001", "records": records}, "thulium", "th", tenant)])
    # outcomes are keyed by UserData, so the results topic's partitions interleave them: picked by event
    got = sorted(
        (o for o in await outcomes(settings, expect=6) if o["event_id"] == "th"), key=lambda o: o["record_index"]
    )

    expected = {
        "441": ("2018-05-24T10:24:00Z", datetime(2018, 5, 24, 10, 24, tzinfo=UTC)),
        "445": ("2026-01-15T08:00:00Z", datetime(2026, 1, 15, 8, 0, tzinfo=UTC)),
        "448": ("2026-03-29T01:30:00Z", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # read as 03:30 CEST
    }
    for outcome in got:
        key = outcome["user_data"]
        assert outcome["status"] == "ADDED", outcome
        assert outcome["contact"]["next_call_at"] == expected[key][0]
        assert outcome["contact"]["next_call_zone"] == "Europe/Warsaw"
        # the native response is the seed's, no time in it
        assert outcome["native"] == {key: {"http_status": 201, "record_id": outcome["record_id"], "status": "ADDED"}}
    assert [w["code"] for w in got[0]["warnings"] + got[1]["warnings"]] == []
    [gap] = got[2]["warnings"]
    assert (gap["code"], gap["path"]) == ("time.nonexistent", "/records/2/next_call_date")
    rows = await conn.fetch(
        "SELECT user_data, next_call_at, next_call_zone FROM campaign_records"
        " WHERE tenant = $1 AND campaign = '00001' ORDER BY user_data",
        tenant,
    )
    assert {r["user_data"]: (r["next_call_at"], r["next_call_zone"]) for r in rows} == {
        k: (v[1], "Europe/Warsaw") for k, v in expected.items()
    }

    # re-sent: the stored membership is reported back with its zone
    await produce(settings, [_tenant_event({"id": "00001", "records": records[:1]}, "thulium", "th-2", tenant)])
    [again] = [o for o in await outcomes(settings, expect=7) if o["event_id"] == "th-2"]
    assert again["status"] == "ALREADY_EXISTS"
    assert (again["contact"]["next_call_at"], again["contact"]["next_call_zone"]) == (
        "2018-05-24T10:24:00Z",
        "Europe/Warsaw",
    )


def _importws(event_id: str, **changes: str) -> dict[str, Any]:
    params = {
        "orgidentity": "cn-team",
        "usertype": "agent",
        "user": "8001",
        "pwdtype": "plaintext",
        "password": "s3cret",
        "modeltype": "Campaign",
        "model_id": "2001",
        "source": "data",
        "context": "UserData=U1||Name=Customer A||phone1=13812345678||dialtime=2026-03-01 09:30:00",
        "source_user": "",
        "source_pwd": "",
        "exetime": "",
        "delrow": "",
        "phone_field": "phone1",
        "priority_field": "",
        "dialtime_field": "dialtime",
        "emptyagent": "no",
        "resetstatus": "no",
        "dupway": "update",
        "dupdiallist": "all",
        "changepackage": "skip",
    }
    return cloudevent({**params, **changes}, dialect="importws", event_id=event_id)


async def test_importws_dialtime_and_exetime_are_the_campaigns_shanghai_time(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, dsn: str
) -> None:
    # the tenant is Polish, the campaign runs in Shanghai: the campaign's zone wins
    # (job_settings: the exetime request names a file on loopback, allowed there; it is due in 2099)
    s = job_settings(settings)
    run_cli(dsn, "tenant", "add", "cn-team", "--timezone", "Europe/Warsaw")
    run_cli(dsn, "user", "add", "cn-team", "8001", "--type", "agent", "--password-stdin", stdin="s3cret\n")
    run_cli(dsn, "campaign", "add", "cn-team", "2001", "--timezone", "Asia/Shanghai", "--region", "CN",
            "--field", "name=Name", "--field", "phone1=phone1", "--field", "dialtime=dialtime")  # fmt: skip
    svc = spawn(s)
    svc.wait_log("partitions assigned")
    later = "http://127.0.0.1:9/later.csv"
    await produce(
        s, [_importws("data"), _importws("file", source="http", context=later, exetime="2099-01-01 08:00:00")]
    )
    got = {o["event_id"]: o for o in await outcomes(s, expect=2)}

    data = got["data"]
    assert (data["status"], data["native"]) == ("ADDED", "|Retuen|1|Retuen|Success")
    [entry] = data["dial_list"]
    assert (entry["dial_at"], entry["dial_zone"]) == ("2026-03-01T01:30:00Z", "Asia/Shanghai")  # 09:30 UTC+8
    [phone] = data["contact"]["phones"]
    assert (phone["dial_at"], phone["dial_zone"]) == ("2026-03-01T01:30:00Z", "Asia/Shanghai")
    assert data["contact"]["fields"]["dialtime"] == "2026-03-01 09:30:00"  # the field as given
    row = await conn.fetchrow("SELECT dial_at, dial_zone FROM dial_list WHERE tenant = 'cn-team' AND user_data = 'U1'")
    assert row is not None and dict(row) == {
        "dial_at": datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
        "dial_zone": "Asia/Shanghai",
    }

    accepted = got["file"]
    assert accepted["status"] == "ACCEPTED"
    assert (accepted["details"]["due_at"], accepted["details"]["due_zone"]) == ("2099-01-01T00:00:00Z", "Asia/Shanghai")
    job = await conn.fetchrow(
        "SELECT due_at, due_zone, state FROM import_jobs WHERE id = $1", job_id("cn-team", "tests", "file", 0)
    )
    assert job is not None
    assert dict(job) == {
        "due_at": datetime(2099, 1, 1, 0, 0, tzinfo=UTC),
        "due_zone": "Asia/Shanghai",
        "state": "scheduled",
    }


async def test_isales_hour_minute_and_recycle_time_are_the_tenants_local_time(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, dsn: str
) -> None:
    tenant, server = "isales-cn", "164690088271159234793429225848"
    s = job_settings(settings)
    run_cli(dsn, "tenant", "add", tenant, "--timezone", "Asia/Shanghai")
    run_cli(dsn, "campaign", "add", tenant, "C-1", "--region", "CN")  # no zone of its own: the tenant's
    await add_file_server(conn, FileServer(tenant, server, "127.0.0.1", 22, "isales", "/isales"), s)
    svc = spawn(s)
    svc.wait_log("partitions assigned")
    shanghai = ZoneInfo("Asia/Shanghai")
    hour = (datetime.now(shanghai) + timedelta(hours=3)).hour  # three hours ahead: never this minute
    file_request = {"vdnId": 1, "campaignId": "C-1", "serverId": server, "fileName": "a.xlsx"}
    row = {"sessionId": "S-1", "called": "[{'calledNo':'13812345678'}]", "recycleTime": "2026-12-31 23:59:59"}
    events = [
        _tenant_event({**file_request, "hour": str(hour), "minute": "05"}, "isales", "file", tenant),
        _tenant_event({"vdnId": 1, "campaignId": "C-1", "rows": [row]}, "isales", "rows", tenant),
    ]
    await produce(s, events)
    sent = datetime.now(UTC)
    got = {o["event_id"]: o for o in await outcomes(s, expect=2)}

    accepted = got["file"]
    assert accepted["status"] == "ACCEPTED" and accepted["native"]["resultCode"] == "0200000"
    due = datetime.fromisoformat(accepted["details"]["due_at"])
    assert accepted["details"]["due_zone"] == "Asia/Shanghai"
    local = due.astimezone(shanghai)
    assert (local.hour, local.minute, local.second) == (hour, 5, 0)  # hour:minute in Shanghai, not in UTC
    assert sent - timedelta(minutes=5) < due <= sent + timedelta(days=1)
    stored = await conn.fetchrow(
        "SELECT due_at, due_zone FROM import_jobs WHERE id = $1", accepted["details"]["job_id"]
    )
    assert stored is not None and (stored["due_at"], stored["due_zone"]) == (due, "Asia/Shanghai")

    added = got["rows"]
    assert added["status"] == "ADDED", added
    assert (added["contact"]["recycle_at"], added["contact"]["recycle_zone"]) == (
        "2026-12-31T15:59:59Z",
        "Asia/Shanghai",
    )
    assert added["contact"]["fields"]["recycleTime"] == "2026-12-31 23:59:59"  # as given


async def test_dialler_dates_are_the_tenants_local_time_and_answered_as_given(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    tenant = "de-dialler"
    await catalog.add_tenant(conn, tenant, timezone="Europe/Berlin")
    await catalog.add_campaign(conn, Campaign(tenant, "538", "My Campaign Name", default_region="DE"))
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    contact_data = {
        "DiallerCampaignsID": 538,
        "UserData": "testUserData",
        "Name": "Mustermann",
        "PhoneNumber1": "+49 30 1234567",
        "dtBeginDate": "2020-01-01T00:00:00",
        "dtEndDate": "2020-03-01T00:00:00",
    }
    await produce(settings, [_tenant_event(contact_data, "dialler", "dialler", tenant)])
    [got] = await outcomes(settings, expect=1)
    assert got["status"] == "ADDED", got
    assert (got["contact"]["window_begin"], got["contact"]["window_end"]) == (
        "2019-12-31T23:00:00Z",
        "2020-02-29T23:00:00Z",
    )
    assert got["contact"]["window_zone"] == "Europe/Berlin"
    [native] = got["native"]["records"]
    assert (native["dtBeginDate"], native["dtEndDate"]) == ("2020-01-01T00:00:00", "2020-03-01T00:00:00")  # as sent
    row = await conn.fetchrow("SELECT window_begin, window_zone FROM campaign_records WHERE tenant = $1", tenant)
    assert row is not None and dict(row) == {
        "window_begin": datetime(2019, 12, 31, 23, 0, tzinfo=UTC),
        "window_zone": "Europe/Berlin",
    }
