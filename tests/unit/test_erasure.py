"""contact.erase parsing, tombstones read as erase requests, and what scrubbing leaves of a message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from service.catalog.model import Catalog
from service.config import REPO_SCHEMAS, Settings
from service.dialects.contact_erase import NOT_REPEATED, ContactErase
from service.model.envelope import Envelope
from service.model.erase import EraseRecord, hashed
from service.model.records import Parsed, Rejected
from service.pipeline import access, erasing, outcomes
from service.store import scrub
from service.store.erasure import Erased

DIALECT = ContactErase(REPO_SCHEMAS)


def _parse(data: Any) -> list[Any]:
    return DIALECT.parse(Envelope("e", "s", "contact.erase", data, "in", 0, 0, 0, None), Catalog())


def test_one_record_per_user_data_named_only_by_its_hash() -> None:
    parsed = _parse({"tenant": "acme", "user_data": ["u-1", "u-2", "u-1"], "dry_run": True})
    assert [p.erase for p in parsed] == [EraseRecord("acme", "u-1", True), EraseRecord("acme", "u-2", True)]
    assert [(p.record.tenant, p.record.user_data) for p in parsed if isinstance(p.record, Rejected)] == [
        ("acme", hashed("acme", "u-1")),
        ("acme", hashed("acme", "u-2")),
    ]
    assert [p.erase for p in _parse({"tenant": "acme", "user_data": "u-3"})] == [EraseRecord("acme", "u-3")]


def test_an_invalid_request_fails_without_repeating_its_values() -> None:
    secret = "x" * 129  # longer than a UserData may be
    for data in ({"tenant": "acme", "user_data": secret}, {"tenant": "acme", "user_data": [secret] * 1001}):
        [failed] = _parse(data)
        assert isinstance(failed.record, Rejected) and failed.erase is None and failed.record.tenant == "acme"
        assert failed.record.errors and {e.message for e in failed.record.errors} == {NOT_REPEATED}


@dataclass
class _Message:
    topic: str = "in"
    partition: int = 2
    offset: int = 7
    timestamp: int = 0
    key: bytes | None = b"u-1"
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def test_a_tombstone_is_an_erase_request_only_when_configured() -> None:
    on = Settings(erase_tombstone_tenant="acme")
    env = erasing.tombstone(on, _Message())
    assert env is not None and (env.event_id, env.dialect, env.data) == (
        "in/2/7",
        "contact.erase",
        {"tenant": "acme", "user_data": "u-1"},
    )
    assert erasing.tombstone(Settings(), _Message()) is None  # default: dead-lettered as before
    for other in (_Message(value=b"{}"), _Message(key=None), _Message(key=b"\xff"), _Message(key=b"a\x00b")):
        assert erasing.tombstone(on, other) is None


def _outcome(tenant: str, user_data: str) -> bytes:
    data = {
        "outcome_id": "o-1", "event_id": "e-1", "record_index": 0, "dialect": "contact.v1", "tenant": tenant,
        "campaign": "camp", "user_data": user_data, "status": "ADDED", "contact": {"name": "Zebedee"},
        "dial_list": [{"phone": "+442079460123"}], "native": "Zebedee", "details": {"match": {"user_data": user_data}},
        "errors": [{"code": "phone.invalid", "path": "/phones/0", "message": "Zebedee"}], "version": 1,
        "source": {"topic": "in", "partition": 0, "offset": 1}, "received_at": "t", "processed_at": "t",
    }  # fmt: skip
    return orjson.dumps({"specversion": "1.0", "id": "o-1", "subject": user_data, "data": data})


def test_a_reduced_outcome_keeps_ids_and_status_only() -> None:
    found = scrub.reduced_outcome(_outcome("acme", "u-1"), {("acme", "u-1")})
    assert found is not None
    payload, key, who = found
    assert key == hashed("acme", "u-1").encode() and who == ("acme", "u-1")
    assert b"Zebedee" not in payload and b"u-1" not in payload and b"2079460123" not in payload
    data = orjson.loads(payload)["data"]
    assert (data["outcome_id"], data["status"], data["version"], data["details"]) == (
        "o-1",
        "ADDED",
        1,
        {"erased": True},
    )
    assert scrub.reduced_outcome(_outcome("beta", "u-1"), {("acme", "u-1")}) is None  # another tenant's
    assert scrub.reduced_outcome(b"not json", {("acme", "u-1")}) is None


def test_a_dead_letter_mentions_a_person_by_user_data_and_tenant() -> None:
    person = EraseRecord("acme", "u-1")
    assert scrub.mentions(person, b'{"tenant": "acme", "user_data": "u-1"}', None, [])
    assert not scrub.mentions(person, b'{"tenant": "beta", "user_data": "u-1"}', None, [])
    assert scrub.mentions(person, b"", b"u-1", [])  # a tombstone: its key, no tenant anywhere
    kept = scrub.placeholder_headers(
        [("ce_type", "t"), ("dlq_reason", "not_json"), ("dlq_header_ce_subject", "u-1"), ("x", "u-1")]
    )
    assert kept == [("ce_type", "t"), ("dlq_reason", "not_json"), ("dlq_redacted", "erased")]


def test_erased_and_reduced_outcomes_match_the_outcome_schema() -> None:
    schema = Draft202012Validator(orjson.loads((REPO_SCHEMAS / "outcome.v1.json").read_bytes()))
    person = EraseRecord("acme", "u-1")
    env = Envelope("e-9", "s", "contact.erase", {}, "in", 0, 3, 0, None)
    done = Erased(person.subject, False, {"customers": 1, "campaign_records": 2, "dial_list": 1})
    erased = outcomes.build(DIALECT, env, 0, Parsed.erasure(person), done, outcomes.now_iso())
    message = outcomes.to_message(erased, "out", env)
    assert message.key == person.subject.encode() and b"u-1" not in message.payload
    reduced = scrub.reduced_outcome(_outcome("acme", "u-1"), {("acme", "u-1")})
    assert reduced is not None
    for payload in (message.payload, reduced[0]):
        data = orjson.loads(payload)["data"]
        assert list(schema.iter_errors(data)) == []


def test_a_request_a_topic_may_not_write_fails_naming_the_hash_only() -> None:
    bound = Settings(topic_tenants={"in": ["beta"]})
    [denied] = access.enforce_tenants(bound, "in", None, _parse({"tenant": "acme", "user_data": "u-1"}), Catalog())
    assert isinstance(denied.record, Rejected) and denied.erase is None
    assert denied.record.user_data == hashed("acme", "u-1") and denied.record.errors[0].code == "tenant.not_allowed"
