"""importWS logins end to end (real service process, broker and Postgres): one answer for every wrong
credential, failures counted per user in Postgres and a locked user refused even with the right
password, a legacy scrypt hash re-hashed to argon2id on the next login, and a refused event claims
no event id."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import asyncpg

from service.catalog import passwords
from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from tests.integration.test_dialect_importws import SUCCESS, _params
from tests.support import ServiceProcess, cloudevent, outcomes, produce
from tests.unit.test_passwords import legacy_scrypt_hash

TENANT = "team1"
DENIED = [{"code": "auth.failed", "path": "/", "message": "authentication failed"}]
DENIED_NATIVE = "|Retuen|2|Retuen|authentication failed"


def _login(event_id: str, user: str, password: str, customer: str, **changes: str) -> dict[str, Any]:
    context = f"UserData={customer}||Name=Customer {customer}||Contact1=+4420794600{len(customer):02d}"
    params = _params(user=user, password=password, context=context, **changes)
    return cloudevent(params, dialect="importws", event_id=event_id)


def _answer(o: dict[str, Any]) -> tuple[str, Any, Any, Any]:
    return o["status"], o.get("errors", []), o.get("warnings", []), o["native"]


async def test_wrong_credentials_lockout_and_rehash(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_campaign(conn, Campaign(TENANT, "C1", "Spring", fields={"name": "Name", "phone1": "Contact1"}))
    await catalog.add_user(conn, TENANT, "agent", "8001", "s3cret")
    await catalog.add_user(conn, TENANT, "agent", "8002", "other")
    legacy = legacy_scrypt_hash("old-pw")
    await conn.execute(
        "INSERT INTO tenant_users (tenant, usertype, login, password_hash) VALUES ($1, 'agent', '8003', $2)",
        TENANT,
        legacy,
    )
    settings = settings.model_copy(update={"login_max_failures": 3})
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    md5 = hashlib.md5(b"s3cret").hexdigest()

    events = [
        _login("wrong-1", "8001", "nope", "U1"),
        _login("wrong-2", "8001", "nope", "U1"),
        _login("ok-1", "8001", md5.upper(), "U1", pwdtype="md5"),  # a success resets the count
        _login("unknown-user", "9999", "s3cret", "U2"),
        _login("wrong-3", "8001", "nope", "U2"),
        _login("wrong-type", "8001", "s3cret", "U2", usertype="account"),
        _login("bad-md5", "8001", "not-an-md5", "U2", pwdtype="md5"),  # 8001's third failure since ok-1
        _login("locked", "8001", "s3cret", "U2"),  # the right password, refused while locked
        _login("other-user", "8002", "other", "U3"),  # another user is not affected
        _login("legacy", "8003", "old-pw", "U4"),
        _login("wrong-1", "8002", "other", "U5"),  # the refused event's id was never claimed
    ]
    await produce(settings, events, key=TENANT.encode())
    got = await outcomes(settings, expect=len(events))
    answers = sorted((o["event_id"], o["status"]) for o in got)  # refusals are keyed by event id
    assert answers == sorted(
        [
            ("wrong-1", "FAILED"),
            ("wrong-2", "FAILED"),
            ("ok-1", "ADDED"),
            ("unknown-user", "FAILED"),
            ("wrong-3", "FAILED"),
            ("wrong-type", "FAILED"),
            ("bad-md5", "FAILED"),
            ("locked", "FAILED"),
            ("other-user", "ADDED"),
            ("legacy", "ADDED"),
            ("wrong-1", "ADDED"),
        ]
    )
    # every refusal reads the same: wrong password, unknown user, wrong user type, malformed MD5, locked
    refused = [o for o in got if o["status"] == "FAILED"]
    assert {repr(_answer(o)) for o in refused} == {repr(("FAILED", DENIED, [], DENIED_NATIVE))}
    assert all("contact" not in o and o.get("user_data") is None for o in refused)
    # outcome ids of refused events never collide (they claim nothing)
    assert len({o["outcome_id"] for o in got}) == len(got)

    # wrong-3, wrong-type and bad-md5 are 8001's failures (per tenant and login): locked, count restarted
    row = await conn.fetchrow(
        "SELECT failures, locked_until > now() AS locked FROM login_failures WHERE tenant = $1 AND login = '8001'",
        TENANT,
    )
    assert dict(row) == {"failures": 0, "locked": True}
    unknown = await conn.fetchval("SELECT failures FROM login_failures WHERE tenant = $1 AND login = '9999'", TENANT)
    assert unknown == 1  # unknown logins are throttled the same way: no way to tell them apart
    assert svc.log().count('"event":"login locked after repeated failures"') == 1 and "s3cret" not in svc.log()
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE user_data = 'U2'") == 0

    # the legacy hash was replaced by an argon2id one that still takes both password forms
    stored = await conn.fetchval("SELECT password_hash FROM tenant_users WHERE login = '8003'")
    assert stored != legacy and stored.startswith("$argon2id$")
    assert passwords.verify(stored, "old-pw", "plaintext").ok
    assert passwords.verify(stored, passwords.md5_hex("old-pw"), "md5").ok

    # the lock ends (its end moved into the past rather than waited for): the right password works,
    # the argon2id hash of 8003 too
    await conn.execute("UPDATE login_failures SET locked_until = now() - interval '1 second'")
    await produce(
        settings,
        [_login("after-lock", "8001", "s3cret", "U6"), _login("legacy-again", "8003", "old-pw", "U7")],
        key=TENANT.encode(),
    )
    later = {o["event_id"]: o for o in await outcomes(settings, expect=len(events) + 2)}
    assert (later["after-lock"]["status"], later["after-lock"]["native"]) == ("ADDED", SUCCESS)
    assert later["legacy-again"]["status"] == "ADDED"
    row = await conn.fetchrow("SELECT failures, locked_until FROM login_failures WHERE login = '8001'")
    assert dict(row) == {"failures": 0, "locked_until": None}
