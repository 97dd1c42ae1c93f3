"""Phones, time zones, do-not-call, dry runs and match policies, end to end through a real
service process, broker and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from service.catalog import store as catalog_store
from service.catalog.model import Campaign, PhonePolicy
from service.config import Settings
from service.model.contact import MatchOn, MatchPolicy, MatchScope
from service.store import dnc
from tests.support import ServiceProcess, cloudevent, contacts_event, outcomes, produce

LONDON, SYDNEY, NEW_YORK = "+442079460001", "+61291234567", "+12125550100"


def _by_event(got: list[Any]) -> dict[tuple[str, int], Any]:
    return {(o["event_id"], o["record_index"]): o for o in got}


async def test_phones_time_zones_dnc_and_dry_run(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    # a service-wide fallback region (US), and do-not-call events read from the input topic, set for this test
    settings = settings.model_copy(update={"default_phone_region": "US", "dnc_global_topics": [settings.input_topic]})
    await catalog_store.add_tenant(conn, "acme")
    await catalog_store.add_campaign(conn, Campaign("acme", "uk", "UK", default_region="GB"))
    rejecting = Campaign("acme", "strict", "Strict", default_region="GB", phone_policy=PhonePolicy.REJECT)
    await catalog_store.add_campaign(conn, rejecting)
    await dnc.add_list(conn, "acme", "complaints", None)
    await dnc.add_list(conn, "", "national", None)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    phones = [{"number": "02079460001"}, {"number": "12345"}, {"number": SYDNEY}]
    first = [
        contacts_event("acme", [{"user_data": "A", "phones": phones}], campaign="uk", event_id="p-1"),
        contacts_event("acme", [{"user_data": "B", "phones": [{"number": "999"}]}], event_id="p-2"),
        contacts_event("acme", [{"user_data": "C", "phones": [{"number": "2125550100"}]}], event_id="p-3"),
        contacts_event("acme", [{"user_data": "G", "phones": [{"number": "999"}]}], campaign="strict", event_id="p-4"),
    ]
    await produce(settings, first, key=b"acme")
    got = _by_event(await outcomes(settings, expect=4))
    a = got[("p-1", 0)]
    assert a["status"] == "ADDED"
    assert [(w["code"], w["path"]) for w in a["warnings"]] == [("phone.invalid", "/contacts/0/phones/1/number")]
    assert a["contact"]["phones"] == [
        {"number": LONDON, "raw": "02079460001", "time_zones": ["Europe/London"]},
        {"number": "12345", "invalid": True},
        {"number": SYDNEY, "time_zones": ["Australia/Sydney"]},
    ]
    assert a["dial_list"] == [
        {"phone": LONDON, "time_zones": ["Europe/London"]},
        {"phone": SYDNEY, "time_zones": ["Australia/Sydney"]},
    ]
    rows = await conn.fetch("SELECT phone, time_zones FROM dial_list WHERE user_data = 'A' ORDER BY id")
    assert [(r["phone"], r["time_zones"]) for r in rows] == [
        (LONDON, ["Europe/London"]),
        (SYDNEY, ["Australia/Sydney"]),
    ]
    # no dialable number: the contact is still added, its number kept and flagged, nothing queued
    b = got[("p-2", 0)]
    assert (b["status"], b["contact"]["phones"], b["dial_list"]) == ("ADDED", [{"number": "999", "invalid": True}], [])
    assert [w["code"] for w in b["warnings"]] == ["phone.invalid"]
    # unless the campaign's phone policy is reject
    assert got[("p-4", 0)]["status"] == "FAILED"
    assert got[("p-4", 0)]["errors"][0]["code"] == "phone.none_valid"
    assert got[("p-3", 0)]["contact"]["phones"][0]["number"] == NEW_YORK  # the fallback region (US)

    # do-not-call by event: London on the tenant's list, New York on the global one; each leaves the dial lists
    dnc_events = [
        cloudevent(
            {"tenant": "acme", "list": "complaints", "add": [{"number": LONDON}]}, dialect="dnc.v1", event_id="d-1"
        ),
        cloudevent(
            {"list": "national", "add": [{"number": NEW_YORK, "expires_at": "2999-01-01"}]},
            dialect="dnc.v1",
            event_id="d-2",
        ),
        cloudevent({"list": "nope", "add": [{"number": NEW_YORK}]}, dialect="dnc.v1", event_id="d-3"),
    ]
    await produce(settings, dnc_events, key=b"dnc")
    got = _by_event(await outcomes(settings, expect=7))
    assert [got[(e, 0)]["status"] for e in ("d-1", "d-2", "d-3")] == ["ADDED", "ADDED", "FAILED"]
    assert got[("d-3", 0)]["errors"][0]["code"] == "dnc.list_unknown"
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE phone = ANY($1::text[])", [LONDON, NEW_YORK]) == 0

    # a partly suppressed contact is stored, its other phone dialled; a wholly suppressed one is SUPPRESSED
    # a dry run (header) computes the same outcome and writes nothing
    later = [
        contacts_event(
            "acme", [{"user_data": "D", "phones": [{"number": LONDON}, {"number": SYDNEY}]}], event_id="s-1"
        ),
        contacts_event("acme", [{"user_data": "E", "phones": [{"number": NEW_YORK}]}], event_id="s-2"),
    ]
    await produce(settings, later, key=b"acme")
    dry = contacts_event("acme", [{"user_data": "F", "phones": [{"number": SYDNEY}]}], event_id="x-1")
    await produce(settings, [dry], key=b"acme", headers=[("dry_run", b"true")])
    got = _by_event(await outcomes(settings, expect=10))
    d, e, f = got[("s-1", 0)], got[("s-2", 0)], got[("x-1", 0)]
    assert d["status"] == "ADDED" and d["dial_list"] == [{"phone": SYDNEY, "time_zones": ["Australia/Sydney"]}]
    assert d["details"]["suppressed"] == [{"phone": LONDON, "list": "complaints", "tenant": "acme"}]
    assert e["status"] == "SUPPRESSED" and e["dial_list"] == []
    assert e["details"] == {
        "suppressed": [{"phone": NEW_YORK, "list": "national", "tenant": None}],
        "contact_status": "ADDED",
    }
    assert (f["status"], f["dry_run"]) == ("ADDED", True) and f["dial_list"][0]["phone"] == SYDNEY
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = 'F'") == 0
    assert await conn.fetchval("SELECT count(*) FROM processed_events WHERE event_id = 'x-1'") == 0

    # the same event id for real afterwards applies, with different outcome ids
    await produce(settings, [dry], key=b"acme")
    got_all = await outcomes(settings, expect=11)
    real = [o for o in got_all if o["event_id"] == "x-1" and not o.get("dry_run")]
    assert len(real) == 1 and real[0]["status"] == "ADDED" and real[0]["outcome_id"] != f["outcome_id"]
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = 'F'") == 1


async def test_match_policy_phone_fallback_scope_and_lookback(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog_store.add_tenant(conn, "acme")
    phone_match = MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE, lookback_days=30)
    await catalog_store.add_campaign(conn, Campaign("acme", "c1", "C1", match=phone_match))
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    await produce(
        settings,
        [contacts_event("acme", [{"user_data": "K1", "phones": [{"number": LONDON}]}], campaign="c1", event_id="m-1")],
    )
    await outcomes(settings, expect=1)
    # an old customer: outside the look-back window
    await produce(
        settings,
        [contacts_event("acme", [{"user_data": "OLD", "phones": [{"number": SYDNEY}]}], campaign="c1", event_id="m-2")],
    )
    await outcomes(settings, expect=2)
    await conn.execute("UPDATE customers SET updated_at = now() - interval '90 days' WHERE user_data = 'OLD'")

    second = [
        contacts_event("acme", [{"phones": [{"number": LONDON}], "name": "Found"}], campaign="c1", event_id="m-3"),
        contacts_event("acme", [{"phones": [{"number": NEW_YORK}]}], campaign="c1", event_id="m-4"),
        contacts_event("acme", [{"user_data": "OLD", "phones": [{"number": SYDNEY}]}], campaign="c1", event_id="m-5"),
        contacts_event("acme", [{"phones": [{"number": NEW_YORK}]}], campaign="elsewhere", event_id="m-6"),
    ]
    await produce(settings, second, key=b"acme")
    got = _by_event(await outcomes(settings, expect=6))
    found = got[("m-3", 0)]
    assert (found["status"], found["user_data"]) == ("UPDATED", "K1")
    assert found["details"]["match"] == {
        "by": "phone",
        "phone": LONDON,
        "user_data": "K1",
        "tenant": "acme",
        "campaigns": ["c1"],
    }
    assert (got[("m-4", 0)]["status"], got[("m-4", 0)]["user_data"]) == (
        "ADDED",
        NEW_YORK,
    )  # no match: keyed by the phone
    stale = got[("m-5", 0)]
    assert stale["status"] == "ADDED" and stale["details"]["match"]["reason"] == "outside_lookback"
    assert stale["details"]["match"]["counted"] is False
    assert got[("m-6", 0)]["errors"][0]["code"] == "contact.user_data_missing"  # default policy: UserData only
    assert await conn.fetchval("SELECT data->>'name' FROM customers WHERE user_data = 'K1'") == "Found"


async def test_match_scope_campaign_versus_tenant_and_lookback_days(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog_store.add_tenant(conn, "acme")
    await catalog_store.add_campaign(conn, Campaign("acme", "c1", "C1"))
    scoped = MatchPolicy(scope=MatchScope.CAMPAIGN, lookback_days=30)
    await catalog_store.add_campaign(conn, Campaign("acme", "scoped", "Scoped", match=scoped))
    tenant_wide = MatchPolicy(scope=MatchScope.TENANT, lookback_days=30)
    await catalog_store.add_campaign(conn, Campaign("acme", "wide", "Wide", match=tenant_wide))
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    def person(key: str, name: str, **more: Any) -> dict[str, Any]:
        return {"user_data": key, "name": name, "phones": [{"number": LONDON}], **more}

    first = [
        contacts_event("acme", [person("K1", "One", email="k1@example.com")], campaign="c1", event_id="f-1"),
        contacts_event("acme", [person("K2", "Two", email="k2@example.com")], campaign="c1", event_id="f-2"),
        contacts_event("acme", [person("K3", "Three")], campaign="scoped", event_id="f-3"),
        contacts_event("acme", [person("K4", "Four")], campaign="scoped", event_id="f-4"),
        contacts_event("acme", [person("K5", "Five")], campaign="wide", event_id="f-5"),
    ]
    await produce(settings, first, key=b"acme")
    assert {o["status"] for o in await outcomes(settings, expect=5)} == {"ADDED"}
    await conn.execute("UPDATE customers SET updated_at = now() - interval '10 days' WHERE user_data = 'K3'")
    await conn.execute("UPDATE customers SET updated_at = now() - interval '90 days' WHERE user_data IN ('K4', 'K5')")

    second = [
        # campaign scope: K1 is a customer of c1 only, so it is no duplicate here; imported anew over it
        contacts_event("acme", [person("K1", "One again")], campaign="scoped", event_id="s-1"),
        # tenant scope: K2 of c1 is a duplicate; the import joins it to this campaign and merges
        contacts_event("acme", [person("K2", "Two again")], campaign="wide", event_id="s-2"),
        # look-back: K3 changed 10 days ago is a duplicate; K4 and K5 (90 days) are not, in either scope
        contacts_event("acme", [person("K3", "Three again")], campaign="scoped", event_id="s-3"),
        contacts_event("acme", [person("K4", "Four again")], campaign="scoped", event_id="s-4"),
        contacts_event("acme", [person("K5", "Five again")], campaign="wide", event_id="s-5"),
    ]
    await produce(settings, second, key=b"acme")
    got = _by_event(await outcomes(settings, expect=10))
    s1, s2, s3, s4, s5 = (got[(f"s-{n}", 0)] for n in range(1, 6))

    assert s1["status"] == "ADDED"
    assert s1["details"]["match"] == {
        "by": "user_data",
        "user_data": "K1",
        "tenant": "acme",
        "campaigns": ["c1"],
        "counted": False,
        "reason": "outside_scope",
    }
    assert await conn.fetchval("SELECT data->>'email' FROM customers WHERE user_data = 'K1'") is None  # overwritten

    assert s2["status"] == "ADDED"  # a new membership of a counted duplicate
    assert s2["details"]["match"] == {"by": "user_data", "user_data": "K2", "tenant": "acme", "campaigns": ["c1"]}
    assert await conn.fetchval("SELECT data->>'email' FROM customers WHERE user_data = 'K2'") == "k2@example.com"

    assert s3["status"] == "UPDATED"
    assert s3["details"]["match"] == {"by": "user_data", "user_data": "K3", "tenant": "acme", "campaigns": ["scoped"]}
    for outcome, campaign in ((s4, "scoped"), (s5, "wide")):
        assert outcome["status"] == "ADDED"
        match = outcome["details"]["match"]
        assert (match["counted"], match["reason"], match["campaigns"]) == (False, "outside_lookback", [campaign])
    members = await conn.fetch("SELECT campaign, user_data FROM campaign_records ORDER BY user_data, campaign")
    assert [(r["user_data"], r["campaign"]) for r in members] == [
        ("K1", "c1"),
        ("K1", "scoped"),
        ("K2", "c1"),
        ("K2", "wide"),
        ("K3", "scoped"),
        ("K4", "scoped"),
        ("K5", "wide"),
    ]


async def test_vendor_records_without_user_data_match_on_the_normalised_phone(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog_store.add_tenant(conn, "acme")
    by_phone = MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE)
    await catalog_store.add_campaign(conn, Campaign("acme", "538", "By phone", default_region="GB", match=by_phone))
    await catalog_store.add_campaign(conn, Campaign("acme", "539", "Seed default", default_region="GB"))
    await catalog_store.add_campaign(
        conn, Campaign("acme", "C-1", "iSales by phone", default_region="GB", match=by_phone)
    )
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    def vendor(data: dict[str, Any], dialect: str, event_id: str) -> dict[str, Any]:
        return {**cloudevent(data, dialect=dialect, event_id=event_id), "tenant": "acme"}

    first = {"DiallerCampaignsID": 538, "UserData": "CUST-1", "Name": "First", "PhoneNumber1": "020 7946 0001"}
    await produce(settings, [vendor(first, "dialler", "d-1")], key=b"acme")
    [added] = await outcomes(settings, expect=1)
    assert (added["status"], added["user_data"]) == ("ADDED", "CUST-1")

    renamed = {"DiallerCampaignsID": 538, "Name": "Renamed", "PhoneNumber1": "+44 20 7946 0001"}
    second = [
        vendor({"overwriteDuplicates": True, "contact": renamed}, "dialler", "d-2"),
        vendor({"DiallerCampaignsID": 538, "Name": "New", "PhoneNumber1": "+61 2 9123 4567"}, "dialler", "d-3"),
        vendor({"DiallerCampaignsID": 539, "Name": "Seed", "PhoneNumber1": "+44 20 7946 0001"}, "dialler", "d-4"),
        vendor(
            {
                "vdnId": 1,
                "campaignId": "C-1",
                "rows": [{"called": [{"calledNo": "02079460001"}]}, {"called": [{"calledNo": "0012125550100"}]}],
            },
            "isales",
            "i-1",
        ),
    ]
    await produce(settings, second, key=b"acme")
    got = _by_event(await outcomes(settings, expect=6))
    d2, d3, d4 = got[("d-2", 0)], got[("d-3", 0)], got[("d-4", 0)]
    assert (d2["status"], d2["user_data"]) == ("UPDATED", "CUST-1")  # found by its number in national form
    assert d2["details"]["match"] == {
        "by": "phone",
        "phone": LONDON,
        "user_data": "CUST-1",
        "tenant": "acme",
        "campaigns": ["538"],
    }
    assert "matched by its phone numbers" in next(
        w["message"] for w in d2["warnings"] if w["code"] == "dialler.user_data_from_phone"
    )
    assert d2["native"]["records"][0]["UserData"] == "CUST-1"
    assert (d3["status"], d3["user_data"]) == ("ADDED", SYDNEY)  # no match: keyed by its number in E.164
    # where the campaign matches on UserData only, a phone is never the key: a new contact, keyed by its event
    assert d4["status"] == "ADDED" and d4["user_data"].startswith("auto-")
    assert "match" not in d4.get("details", {})
    i0, i1 = got[("i-1", 0)], got[("i-1", 1)]
    assert (i0["status"], i0["user_data"], i0["details"]["match"]["by"]) == ("ADDED", "CUST-1", "phone")
    assert (i1["status"], i1["user_data"]) == ("ADDED", NEW_YORK)
    rows = await conn.fetch("SELECT user_data, data->>'name' AS name FROM customers ORDER BY user_data")
    assert [(r["user_data"], r["name"]) for r in rows] == [
        ("+12125550100", None),
        (SYDNEY, "New"),
        ("CUST-1", "Renamed"),
        (d4["user_data"], "Seed"),
    ]
    members = await conn.fetch("SELECT campaign FROM campaign_records WHERE user_data = 'CUST-1' ORDER BY campaign")
    assert [r["campaign"] for r in members] == ["538", "C-1"]
