"""The login throttle's rules and the tenant rules, without infrastructure (end to end:
tests/integration/test_logins.py and test_tenants.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.catalog.model import Catalog
from service.config import Settings
from service.model.dnc import GLOBAL, DncChange
from service.model.records import Parsed, Rejected
from service.pipeline import access
from service.store.logins import _one, _Row
from tests.unit.test_contact_v1 import ADAPTER, _data, _env

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW, LOCK = timedelta(minutes=15), timedelta(minutes=15)


def _attempts(row: _Row, *steps: tuple[bool, timedelta]) -> list[bool]:
    return [_one(row, ok, T0 + at, WINDOW, LOCK, 3) for ok, at in steps]


def test_failures_within_the_window_lock_and_the_lock_ends() -> None:
    row = _Row(0, T0, None)
    minute = timedelta(minutes=1)
    assert _attempts(row, (False, 0 * minute), (False, minute), (False, 2 * minute)) == [False] * 3
    assert row.locked_until == T0 + 2 * minute + LOCK and row.failures == 0
    assert _attempts(row, (True, 3 * minute), (False, 4 * minute)) == [False, False]  # locked: not counted
    assert row.failures == 0
    assert _attempts(row, (True, 2 * minute + LOCK + minute)) == [True]  # the lock is over
    assert row.locked_until is None


def test_a_success_resets_and_old_failures_fall_out_of_the_window() -> None:
    row = _Row(0, T0, None)
    minute = timedelta(minutes=1)
    assert _attempts(row, (False, 0 * minute), (False, minute), (True, 2 * minute)) == [False, False, True]
    assert row.failures == 0
    _attempts(row, (False, 3 * minute), (False, 4 * minute))
    assert _attempts(row, (False, 3 * minute + WINDOW + minute)) == [False]  # a new window: count 1
    assert (row.failures, row.locked_until) == (1, None)


def _codes(parsed: list[Parsed]) -> list[list[str]]:
    return [[e.code for e in p.record.errors] if isinstance(p.record, Rejected) else [] for p in parsed]


def test_tenant_rules_per_record() -> None:
    parsed = ADAPTER.parse(_env(_data({"user_data": "U1"}, {"user_data": "U2"})), Catalog())
    catalog = Catalog(tenants={"acme"})
    open_ = Settings()
    assert _codes(access.enforce_tenants(open_, "in", None, parsed, catalog)) == [[], []]
    assert _codes(access.enforce_tenants(open_, "in", "other", parsed, catalog)) == [["tenant.mismatch"]] * 2
    bound = Settings(topic_tenants={"in": ["acme"], "vip": ["vip"]})
    assert _codes(access.enforce_tenants(bound, "in", None, parsed, catalog)) == [[], []]
    assert _codes(access.enforce_tenants(bound, "vip", None, parsed, catalog)) == [["tenant.not_allowed"]] * 2
    assert _codes(access.enforce_tenants(bound, "unlisted", None, parsed, catalog)) == [["tenant.not_allowed"]] * 2
    strict = Settings(require_tenant_attribute=True)
    assert _codes(access.enforce_tenants(strict, "in", None, parsed, catalog)) == [["tenant.attribute_missing"]] * 2
    assert _codes(access.enforce_tenants(strict, "in", "acme", parsed, catalog)) == [[], []]
    assert (
        _codes(access.enforce_tenants(strict, "in", "ghost", parsed, Catalog(tenants={"ghost"})))
        == [["tenant.mismatch"]] * 2
    )
    denied = access.enforce_tenants(bound, "vip", None, parsed, catalog)
    assert access.denied(denied) and not access.denied(parsed)


def test_only_named_topics_change_the_global_do_not_call_lists() -> None:
    parsed = [
        Parsed.dnc(DncChange(tenant=GLOBAL, list="national", phone="+12125550100")),
        Parsed.dnc(DncChange(tenant="acme", list="complaints", phone="+12125550100")),
    ]
    refused = access.enforce_tenants(Settings(), "imports", None, parsed, Catalog())
    assert isinstance(refused[0].record, Rejected) and refused[0].change is None
    assert [e.code for e in refused[0].record.errors] == ["tenant.global_dnc_not_allowed"]
    assert refused[1] == parsed[1]  # a tenant's own list is the tenant rules' business
    assert access.denied(refused)  # the event applies nothing
    named = Settings(dnc_global_topics=["dnc-national"])
    assert access.enforce_tenants(named, "dnc-national", None, parsed, Catalog()) == parsed
