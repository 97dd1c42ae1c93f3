"""Which advisory locks a transaction takes for its contacts (service/store/keylocks.py)."""

from __future__ import annotations

from service.config import Settings
from service.model.contact import Contact, ContactRecord, MatchOn, MatchPolicy, Phone, Policy
from service.model.dnc import DncAction, DncChange
from service.store.keylocks import LIMIT, WHOLE, key_of, plan


def _rec(user_data: str, tenant: str = "t", *, on_phone: bool = False, dry_run: bool = False) -> ContactRecord:
    match = MatchPolicy(on=MatchOn.USER_DATA_OR_PHONE) if on_phone else MatchPolicy()
    return ContactRecord(
        tenant=tenant,
        campaign="c",
        contact=Contact(user_data=user_data, phones=[Phone(number="+4930111")]),
        policy=Policy(match=match, dry_run=dry_run),
    )


def test_the_key_is_a_stable_signed_64_bit_hash_of_tenant_and_user_data() -> None:
    # the same in every process and release: replicas of different versions lock the same keys
    assert key_of("acme", "u1") == -427904072213411853
    assert key_of("team1", "U0") == 3571262063468879196
    assert key_of("a", "b:c") != key_of("a:b", "c")  # the tenant's length is part of the hashed text
    assert all(-(2**63) < key_of("t", f"u{i}") < 2**63 for i in range(1000))


def test_keys_are_sorted_once_each_behind_the_shared_whole_store_lock() -> None:
    locks = plan([_rec("b"), _rec("a"), _rec("b"), _rec("a", tenant="other")])
    assert not locks.exclusive
    assert locks.keys == tuple(sorted({key_of("t", "a"), key_of("t", "b"), key_of("other", "a")}))
    keys, whole, exclusive = locks.arguments()
    assert keys[0] == whole == WHOLE and min(keys) == WHOLE and not exclusive


def test_what_crosses_contacts_takes_the_whole_store_exclusively() -> None:
    add = DncChange(tenant="t", list="l", phone="+4930111")
    assert plan([_rec("a")], [add]).exclusive
    assert plan([_rec("", on_phone=True)]).exclusive  # a phone match reads other contacts' phones
    assert plan([_rec(str(i)) for i in range(11)], limit=10).exclusive
    assert Settings().contact_locks_max == LIMIT == 2000
    assert plan([_rec(str(i)) for i in range(10)], limit=10).keys  # at the limit: one lock per key
    # nothing crosses contacts: a number taken off a list, a dry run, a record without UserData that
    # fails (its campaign matches on UserData only)
    removed = DncChange(tenant="t", list="l", phone="+4930111", action=DncAction.REMOVE)
    dry_add = DncChange(tenant="t", list="l", phone="+4930111", dry_run=True)
    assert not plan([_rec("a")], [removed, dry_add]).exclusive
    assert not plan([_rec("", on_phone=True, dry_run=True), _rec("")]).exclusive
    assert plan([_rec("")]).keys == ()
