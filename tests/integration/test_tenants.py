"""Tenants end to end (real service process, broker and Postgres).

Isolation: tenant B, using the same UserData, customer ids, campaign ids, campaign names, status ids,
user logins and even event ids as tenant A, in every dialect, never reads or changes A's customers,
memberships, dial lists, campaigns or statuses, and none of B's outcomes carries A's data.
Tenant rules: a topic bound to tenants and a required tenant attribute, enforced for every dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from tests.integration.test_dialect_importws import _params
from tests.support import ServiceProcess, cloudevent, contact, contacts_event, outcomes, produce

FIELDS = {"name": "Name", "phone1": "Contact1"}
# what only tenant a's data holds: none of it may show up in an outcome of tenant b
A_SECRETS = ("Alice", "+1444", "alice-secret", "Interested-A", "pw-a")


async def _tenant(conn: asyncpg.Connection, tenant: str, password: str, secret_campaign: bool) -> None:
    """Tenants a and b are configured alike: the same campaign ids, the same user login."""
    await catalog.add_tenant(conn, tenant)
    await catalog.add_user(conn, tenant, "agent", "8001", password)
    await catalog.add_campaign(conn, Campaign(tenant, "538", f"Spring {tenant}", fields=FIELDS))
    await catalog.add_campaign(conn, Campaign(tenant, "00001", f"Outbound {tenant}"))
    await catalog.add_campaign(conn, Campaign(tenant, "C-1", f"iSales {tenant}"))
    await catalog.add_status(conn, tenant, "00001", "1", "New", None)
    if secret_campaign:  # only a has campaign 777 and status 7
        await catalog.add_campaign(conn, Campaign(tenant, "777", "Secret campaign", fields=FIELDS))
        await catalog.add_status(conn, tenant, "00001", "7", "Interested-A", None)


def _ce(data: Any, dialect: str, event_id: str, tenant: str | None) -> dict[str, Any]:
    event = cloudevent(data, dialect=dialect, event_id=event_id)
    if tenant is not None:
        event["tenant"] = tenant
    return event


def _importws(
    event_id: str, tenant: str, password: str, user_data: str, name: str, phone: str = "+15550000201", **changes: str
) -> dict[str, Any]:
    context = f"UserData={user_data}||Name={name}||Contact1={phone}"
    params = _params(orgidentity=tenant, user="8001", password=password, model_id="538", context=context)
    return _ce({**params, **changes}, "importws", event_id, None)


def _dialler(
    event_id: str, tenant: str, user_data: str, name: str, phone: str = "+15550000301", **campaign: Any
) -> dict[str, Any]:
    ref = campaign or {"DiallerCampaignsID": 538}
    person = {"UserData": user_data, "Name": name, "PhoneNumber1": phone, **ref}
    return _ce({"overwriteDuplicates": False, "contact": person}, "dialler", event_id, tenant)


def _thulium(event_id: str, tenant: str, *records: dict[str, Any]) -> dict[str, Any]:
    return _ce({"id": "00001", "records": list(records)}, "thulium", event_id, tenant)


def _isales(event_id: str, tenant: str, call_data: str, campaign: str = "C-1") -> dict[str, Any]:
    row = {"sessionId": "S1", "called": [{"calledNo": "5550001"}], "callData": call_data}
    return _ce({"vdnId": 1, "campaignId": campaign, "rows": [row]}, "isales", event_id, tenant)


async def _in_input_order(settings: Settings, expect: int) -> list[dict[str, Any]]:
    """The outcomes in the order of their input (one key, so one input partition): the results topic's
    partitions (outcomes are keyed by UserData) interleave them in any order."""
    got = await outcomes(settings, expect=expect)
    return sorted(got, key=lambda o: (o["source"]["offset"], o["record_index"]))


async def _rows_of(conn: asyncpg.Connection, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """Every row tenant ``tenant`` owns, every column (timestamps too: an untouched row keeps them)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, order in (
        ("customers", "user_data"),
        ("campaign_records", "campaign, user_data"),
        ("dial_list", "campaign, user_data, id"),
    ):
        rows = await conn.fetch(f"SELECT * FROM {table} WHERE tenant = $1 ORDER BY {order}", tenant)
        out[table] = [dict(r) for r in rows]
    return out


async def test_tenant_b_never_reads_or_changes_tenant_a(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _tenant(conn, "a", "pw-a", secret_campaign=True)
    await _tenant(conn, "b", "pw-b", secret_campaign=False)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    a_events = [
        contacts_event("a", [contact("U1", phone="+14440000001", name="Alice One")], campaign="538", event_id="ev-1"),
        contacts_event("a", [contact("441", phone="+14440000002", name="Alice Crm")], campaign="777", event_id="ev-2"),
        _importws("ev-3", "a", "pw-a", "U2", "Alice Import", phone="+14440000003"),
        _dialler("ev-4", "a", "U3", "Alice Dialler", phone="+14440000004"),
        _thulium("ev-5", "a", {"customer_id": 441, "status_id": 7}),
        _isales("ev-6", "a", "alice-secret"),
    ]
    await produce(settings, a_events, key=b"tenants")
    first = await _in_input_order(settings, expect=len(a_events))
    assert [o["status"] for o in first] == ["ADDED"] * len(a_events), [o.get("errors") for o in first]
    a_before = await _rows_of(conn, "a")

    b_events = [
        # the same keys, in every dialect, with the most "existing-customer" sensitive options
        contacts_event("b", [contact("U1", name="Bob One")], campaign="538", event_id="b-1", mode="insert_only"),
        _importws("b-2", "b", "pw-b", "U2", "Bob Import", dupway="skip"),
        _dialler("b-3", "b", "U3", "Bob Dialler"),
        _thulium("b-4", "b", {"customer_id": 441}),  # a's customer: not b's
        _thulium("b-5", "b", {"customer_id": "U1"}, {"customer_id": "U1", "status_id": 7}),  # a's status 7
        _isales("b-6", "b", "bob"),
        # a's campaign (by id and by name), a's password for b's user of the same login
        contacts_event("b", [contact("U9", name="Bob Nine")], campaign="777", event_id="b-7"),
        _dialler("b-8", "b", "U8", "Bob Eight", DiallerCampaignsName="Secret campaign"),
        _importws("b-9", "b", "pw-a", "U1", "Bob Login"),
        _importws("b-10", "b", "pw-b", "U1", "Bob Other", model_id="777"),
        _isales("b-11", "b", "bob", campaign="777"),
        # the event id a already used; an event naming no tenant, with the id a is about to use
        contacts_event("b", [contact("U1", name="Bob Again")], campaign="538", event_id="ev-1"),
        cloudevent({"campaign": "538", "contacts": [contact("U1")]}, event_id="ev-7"),
    ]
    await produce(settings, b_events, key=b"tenants")
    got = (await _in_input_order(settings, expect=len(a_events) + len(b_events) + 1))[len(a_events) :]
    by_event = {(o["event_id"], o["record_index"]): o for o in got}
    assert len(by_event) == len(got) == len(b_events) + 1
    assert {k: o["status"] for k, o in by_event.items()} == {
        ("b-1", 0): "ADDED",  # not ALREADY_EXISTS: a's U1 is not b's
        ("b-2", 0): "ADDED",  # not SKIPPED
        ("b-3", 0): "ADDED",  # not ALREADY_EXISTS with a's contact
        ("b-4", 0): "FAILED",
        ("b-5", 0): "ADDED",  # b's own U1 (from b-1)
        ("b-5", 1): "FAILED",
        ("b-6", 0): "ADDED",  # not UPDATED
        ("b-7", 0): "ADDED",  # contact.v1 names campaigns freely: a membership of b's, not a's campaign
        ("b-8", 0): "FAILED",
        ("b-9", 0): "FAILED",
        ("b-10", 0): "FAILED",
        ("b-11", 0): "FAILED",
        ("ev-1", 0): "FAILED",
        ("ev-7", 0): "FAILED",
    }
    codes = {k: [e["code"] for e in o.get("errors", [])] for k, o in by_event.items() if o["status"] == "FAILED"}
    assert codes == {
        ("b-4", 0): ["customer.not_found"],
        ("b-5", 1): ["thulium.status_unknown"],
        ("b-8", 0): ["dialler.campaign_unknown"],
        ("b-9", 0): ["auth.failed"],
        ("b-10", 0): ["importws.campaign_not_found"],
        ("b-11", 0): ["02000007"],
        ("ev-1", 0): ["event.id_conflict"],
        ("ev-7", 0): ["schema.missing"],
    }
    assert by_event[("b-4", 0)]["native"] == {
        "441": {"http_status": 400, "status": "FAILED", "message": "Customer not found."}
    }
    for o in got:  # no outcome of b carries anything of a's
        text = orjson.dumps(o).decode()
        assert o.get("tenant", "b") == "b" and not [s for s in A_SECRETS if s in text], text
    assert by_event[("b-1", 0)]["contact"]["name"] == "Bob One"
    assert by_event[("b-3", 0)]["contact"]["name"] == "Bob Dialler"

    # a's rows are exactly as they were, to the last timestamp; b has its own
    assert await _rows_of(conn, "a") == a_before
    b_rows = await _rows_of(conn, "b")
    assert sorted(r["user_data"] for r in b_rows["customers"]) == ["S1", "U1", "U2", "U3", "U9"]
    assert {r["user_data"]: r["data"].get("name") for r in b_rows["customers"]}["U1"] == "Bob One"

    # a re-publishes its event: a's own outcome is re-sent, never b's refusal of that id; the id the
    # tenant-less event used is still free for a
    ev7 = contacts_event("a", [contact("U7", phone="+14440000007", name="Alice Seven")], event_id="ev-7")
    await produce(settings, [a_events[0], ev7], key=b"tenants")
    # in the order read: the outcomes of ev-1 share a key (U1), hence a partition; a re-sent outcome is
    # the stored one, its source the first read
    final = await outcomes(settings, expect=len(a_events) + len(b_events) + 3)
    ev1 = [o for o in final if o["event_id"] == "ev-1"]
    assert [(o["tenant"], o["status"]) for o in ev1] == [("a", "ADDED"), ("b", "FAILED"), ("a", "ADDED")]
    assert ev1[2]["outcome_id"] == ev1[0]["outcome_id"] != ev1[1]["outcome_id"]
    ev7_outcomes = sorted((o for o in final if o["event_id"] == "ev-7"), key=lambda o: o["source"]["offset"])
    assert [(o.get("tenant"), o["status"]) for o in ev7_outcomes] == [
        (None, "FAILED"),
        ("a", "ADDED"),
    ]


def _attributed(event: dict[str, Any], tenant: str | None) -> dict[str, Any]:
    return {**{k: v for k, v in event.items() if k != "tenant"}, **({"tenant": tenant} if tenant else {})}


async def test_a_topic_bound_to_a_tenant_and_a_required_attribute_hold_for_every_dialect(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _tenant(conn, "a", "pw-a", secret_campaign=False)
    await _tenant(conn, "b", "pw-b", secret_campaign=False)
    settings = settings.model_copy(
        update={"topic_tenants": {settings.input_topic: ["a"]}, "require_tenant_attribute": True}
    )
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    def v1(event_id: str, tenant: str, attribute: str | None, *users: str) -> dict[str, Any]:
        event = contacts_event(tenant, [contact(u) for u in users or ("U1",)], campaign="538", event_id=event_id)
        return _attributed(event, attribute)

    events = [
        v1("v1-ok", "a", "a"),
        v1("v1-no-attribute", "a", None),
        v1("v1-other", "b", "b", "U1", "U2"),
        v1("v1-mismatch", "b", "a"),
        v1("v1-ghost", "ghost", "ghost"),
        _attributed(_importws("ws-ok", "a", "pw-a", "U3", "Ann"), "a"),
        _importws("ws-no-attribute", "a", "pw-a", "U3", "Ann"),
        _attributed(_importws("ws-other", "b", "pw-b", "U3", "Ben"), "b"),
        _dialler("di-ok", "a", "U4", "Ann"),
        _dialler("di-other", "b", "U4", "Ben"),
        _thulium("th-other", "b", {"customer_id": "U1"}),
        _thulium("th-ok", "a", {"customer_id": "U1"}),
        _isales("is-other", "b", "x"),
        _isales("is-ok", "a", "x"),
    ]
    await produce(settings, events, key=b"tenants")
    got = await outcomes(settings, expect=len(events) + 1)
    codes = {(o["event_id"], o["record_index"]): [e["code"] for e in o.get("errors", [])] for o in got}
    assert codes == {
        ("v1-ok", 0): [],
        ("v1-no-attribute", 0): ["tenant.attribute_missing"],
        ("v1-other", 0): ["tenant.not_allowed"],
        ("v1-other", 1): ["tenant.not_allowed"],
        ("v1-mismatch", 0): ["tenant.mismatch", "tenant.not_allowed"],
        ("v1-ghost", 0): ["tenant.unknown", "tenant.not_allowed"],
        ("ws-ok", 0): [],
        ("ws-no-attribute", 0): ["tenant.attribute_missing"],
        ("ws-other", 0): ["tenant.not_allowed"],
        ("di-ok", 0): [],
        ("di-other", 0): ["tenant.not_allowed"],
        ("th-other", 0): ["tenant.not_allowed"],
        ("th-ok", 0): [],
        ("is-other", 0): ["tenant.not_allowed"],
        ("is-ok", 0): [],
    }
    assert {o["status"] for o in got if not codes[(o["event_id"], o["record_index"])]} == {"ADDED"}
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant <> 'a'") == 0
