"""schemas/asyncapi.yaml: an AsyncAPI 3.0.0 document whose every $ref resolves, that references every
dialect schema, names the service's real topics, and describes the messages the service really
produces (built with the service's own code and validated against the document's schemas)."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from service.config import Settings
from service.dialects import default_registry
from service.errors import UndecodableMessage
from service.kafka import fitting
from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState
from service.model.outcome import ErrorModel, Outcome, Source, Status, outcome_id
from service.model.trace import TraceContext
from service.pipeline import job_events, outcomes
from service.store.outbox import OutMessage, Pending
from tests.deploy.asyncapi_schema import ASYNCAPI_3_0_0
from tests.deploy.common import REPO, SCHEMAS, load_yaml
from tests.jobs import job_for

DOC_PATH = SCHEMAS / "asyncapi.yaml"
TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01", "vendor=opaque")
NOT_DIALECTS = {"outcome.v1.json"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(DOC_PATH)
    return loaded


def _refs(node: Any, trail: str = "") -> Iterator[tuple[str, str]]:
    """(where, $ref) for every reference in a document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield trail or "/", ref
        for key, value in node.items():
            yield from _refs(value, f"{trail}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{trail}/{i}")


def _pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in [p for p in fragment.lstrip("/").split("/") if p] if fragment else []:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _load(path: Path) -> Any:
    return load_yaml(path) if path.suffix in {".yaml", ".yml"} else json.loads(path.read_text(encoding="utf-8"))


def _dialect_schemas() -> list[Path]:
    return sorted(p for p in SCHEMAS.glob("*.json") if p.name not in NOT_DIALECTS)


@functools.cache
def _registry() -> tuple[Registry[Any], str]:
    """The document and every JSON Schema beside it, by file URI (and by $id), nothing fetched."""
    resources: list[tuple[str, Resource[Any]]] = []
    base = DOC_PATH.as_uri()
    resources.append((base, Resource.from_contents(_load(DOC_PATH), default_specification=DRAFT7)))
    for path in SCHEMAS.glob("*.json"):
        contents = _load(path)
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        resources.append((path.as_uri(), resource))
        if "$id" in contents:
            resources.append((contents["$id"], resource))
    return Registry().with_resources(resources), base


def _validator(pointer: str) -> jsonschema.protocols.Validator:
    registry, base = _registry()
    return jsonschema.Draft7Validator({"$ref": f"{base}#{pointer}"}, registry=registry)


def _errors(pointer: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(pointer).iter_errors(instance)]


def test_document_matches_the_asyncapi_3_structure(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(ASYNCAPI_3_0_0)
    errors = list(jsonschema.Draft202012Validator(ASYNCAPI_3_0_0).iter_errors(doc))
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_every_ref_resolves() -> None:
    seen: set[Path] = set()
    pending = [DOC_PATH]
    checked = 0
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        document = _load(path)
        for where, ref in _refs(document):
            target, fragment = urldefrag(ref)
            assert "://" not in target, f"{path.name}{where}: {ref} would need the network"
            target_path = (path.parent / target).resolve() if target else path
            assert target_path.is_file(), f"{path.name}{where}: {ref}: no file {target_path}"
            try:
                _pointer(_load(target_path), fragment)
            except (KeyError, IndexError, ValueError) as exc:
                pytest.fail(f"{path.name}{where}: {ref}: no such pointer ({exc!r})")
            checked += 1
            if target_path.suffix in {".json", ".yaml", ".yml"}:
                pending.append(target_path)
    assert checked > 0


def test_every_dialect_schema_is_referenced(doc: dict[str, Any]) -> None:
    dialects = _dialect_schemas()
    assert dialects, "schemas/ holds no dialect schema"
    referenced = {(DOC_PATH.parent / urldefrag(ref)[0]).resolve() for _, ref in _refs(doc) if urldefrag(ref)[0]}
    missing = [p.name for p in dialects if p.resolve() not in referenced]
    assert not missing, (
        f"schemas/asyncapi.yaml does not reference {missing}: add a structured and a binary message for each "
        "(copy contactV1Structured/contactV1Binary), list them in the contactImports channel and in "
        "the receiveContactImports operation"
    )
    assert (SCHEMAS / "outcome.v1.json").resolve() in referenced


def _message_names(message: dict[str, Any]) -> tuple[str, set[str]] | None:
    """(schema file, accepted type names) of a dialect's input message, or None for another message."""
    payload = message.get("payload", {})
    if "allOf" in payload:  # structured mode: the CloudEvent's type and data
        for part in payload["allOf"]:
            props = part.get("properties", {})
            if "data" in props and "type" in props:
                return props["data"]["$ref"], set(props["type"]["enum"])
        return None
    headers = message.get("headers", {})
    if "$ref" in payload and "allOf" in headers:  # binary mode: ce_type or dialect header
        for part in headers["allOf"]:
            props = part.get("properties", {})
            if "ce_type" in props and "dialect" in props:
                assert props["ce_type"]["enum"] == props["dialect"]["enum"], message.get("name")
                return payload["$ref"], set(props["ce_type"]["enum"])
    return None


def test_every_registered_dialect_has_a_structured_and_a_binary_message(doc: dict[str, Any]) -> None:
    registry = default_registry(SCHEMAS)
    described: dict[tuple[str, str], set[str]] = {}
    for name, message in doc["components"]["messages"].items():
        found = _message_names(message)
        if found is not None:
            mode = "structured" if "allOf" in message["payload"] else "binary"
            assert (found[0], mode) not in described, f"{name}: {found[0]} is described twice in {mode} mode"
            described[(found[0], mode)] = found[1]
    for dialect in registry.names():
        accepted = {dialect, *registry.get(dialect).aliases}
        assert (SCHEMAS / f"{dialect}.json").is_file(), f"dialect {dialect} has no schemas/{dialect}.json"
        for mode in ("structured", "binary"):
            names = described.get((f"./{dialect}.json", mode))
            assert names is not None, f"no {mode}-mode message for dialect {dialect} in schemas/asyncapi.yaml"
            assert dialect in names, f"{dialect} ({mode}): the document must name the dialect {dialect!r}"
            assert names <= accepted, f"{dialect} ({mode}): {sorted(names - accepted)} are not accepted by the service"


def test_channels_and_operations(doc: dict[str, Any]) -> None:
    defaults = Settings.model_fields
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        defaults["input_topic"].default,
        defaults["results_topic"].default,
        defaults["dead_letter_topic"].default,
        defaults["jobs_topic"].default,
    }
    by_address = {c["address"]: name for name, c in doc["channels"].items()}
    actions: dict[str, set[str]] = {}
    for name, op in doc["operations"].items():
        channel_ref = op["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), name
        channel_id = channel_ref.removeprefix("#/channels/")
        assert channel_id in doc["channels"], f"{name}: unknown channel {channel_id}"
        actions.setdefault(doc["channels"][channel_id]["address"], set()).add(op["action"])
        channel_messages = doc["channels"][channel_id]["messages"]
        assert op.get("messages"), f"{name} names its messages"
        for message in op["messages"]:
            prefix = f"{channel_ref}/messages/"
            assert message["$ref"].startswith(prefix), f"{name}: messages must be the channel's ({prefix}…)"
            assert message["$ref"].removeprefix(prefix) in channel_messages
    assert actions == {
        defaults["input_topic"].default: {"receive"},
        defaults["results_topic"].default: {"send"},
        defaults["dead_letter_topic"].default: {"send"},
        defaults["jobs_topic"].default: {"send"},
    }
    assert set(doc["channels"][by_address["contact-imports"]]["messages"]) == {
        m["$ref"].rsplit("/", 1)[1]
        for op in doc["operations"].values()
        if op["action"] == "receive"
        for m in op["messages"]
    }, "the receive operation lists every input message"


def _envelope() -> Envelope:
    return Envelope(
        event_id="crm-batch-0001",
        event_source="crm://acme",
        dialect="contact.v1",
        data={},
        topic="contact-imports",
        partition=3,
        offset=42,
        timestamp_ms=1_760_000_000_000,
        key=b"C-1001",
        trace=TRACE,  # carried to the outputs: headers and CloudEvents attributes
    )


def _outcome(status: Status, **extra: Any) -> Outcome:
    return Outcome(
        outcome_id=outcome_id("crm://acme\x1fcrm-batch-0001", 0),
        event_id="crm-batch-0001",
        record_index=0,
        dialect="contact.v1",
        status=status,
        source=Source(topic="contact-imports", partition=3, offset=42),
        received_at="2025-10-09T08:53:20.000Z",
        processed_at=outcomes.now_iso(),
        **extra,
    )


@pytest.mark.parametrize(
    "outcome",
    [
        _outcome(
            Status.ADDED,
            tenant="acme",
            campaign="spring-sale",
            user_data="C-1001",
            contact={"user_data": "C-1001", "name": "Ada"},
            dial_list=[{"number": "+442071234567", "priority": 1}],
            version=1,
            record_id=111,
            details={"moved_from": "old-package"},
            native={"records": [], "count": 1, "status": 200},
        ),
        _outcome(Status.FAILED, errors=[ErrorModel(code="pattern", path="/contacts/2/phones/0/number", message="x")]),
        _outcome(
            Status.ACCEPTED,
            tenant="team1",
            campaign="C1",
            details={"job_id": "6f1c", "due_at": "2026-01-01T00:00:00Z", "source": "http://files/a.csv"},
            native="|Retuen|1|Retuen|6f1c",
        ),
    ],
    ids=["added", "failed-without-user-data", "accepted-file-import"],
)
def test_real_outcome_messages_match_the_document(outcome: Outcome) -> None:
    message = outcomes.to_message(outcome, "contact-import-results", _envelope())
    assert _errors("/components/messages/outcome/payload", orjson.loads(message.payload)) == []
    assert _errors("/components/messages/outcome/headers", dict(message.headers)) == []
    assert orjson.loads(message.payload)["traceparent"] == dict(message.headers)["traceparent"] == TRACE.traceparent
    bad = {**orjson.loads(message.payload), "traceparent": "00-xyz"}
    assert _errors("/components/messages/outcome/payload", bad), "a traceparent has the W3C form"


def test_outcome_schema_mirrors_the_model() -> None:
    schema = json.loads((SCHEMAS / "outcome.v1.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]) == set(Outcome.model_fields)
    assert set(schema["required"]) == {n for n, f in Outcome.model_fields.items() if f.is_required()}
    assert schema["properties"]["status"]["enum"] == [s.value for s in Status]
    assert set(schema["$defs"]["error"]["properties"]) == set(ErrorModel.model_fields)
    assert set(schema["properties"]["source"]["properties"]) == set(Source.model_fields)


@pytest.mark.parametrize("kind", ["accepted", "progress", "completed", "failed", "cancelled"])
def test_real_job_events_match_the_document(kind: job_events.Kind) -> None:
    env = Envelope("isales-file-1", "crm", "isales", {}, "contact-imports", 1, 7, 1_760_000_000_000, None, "acme")
    request = ImportRequest("acme", "C-1", "sftp", "xlsx", server_id="srv-1", file_path="/in", file_name="a.xlsx")
    job = dataclasses.replace(job_for(env, request), trace_context=TRACE.stored())
    if kind == "failed":
        job = dataclasses.replace(job, state=JobState.FAILED, error_code="02000011", error_message="too many")
    message = job_events.message("contact-import-jobs", job, kind)
    assert _errors("/components/messages/jobEvent/payload", orjson.loads(message.payload)) == []
    assert _errors("/components/messages/jobEvent/headers", dict(message.headers)) == []
    assert (
        message.key == job.id.encode() and orjson.loads(message.payload)["data"]["source"] == "sftp://srv-1/in/a.xlsx"
    )
    wrong = {**orjson.loads(message.payload), "data": {**orjson.loads(message.payload)["data"], "event": "paused"}}
    assert _errors("/components/messages/jobEvent/payload", wrong), "the event kind is an enum"


def test_local_times_with_their_zones_match_the_document() -> None:
    # a Thulium next call and an importWS dial time read in the tenant's zone; a scheduled iSales job
    contact = {"user_data": "441", "next_call_at": "2018-05-24T10:24:00Z", "next_call_zone": "Europe/Warsaw"}
    dial = [{"phone": "+8613812345678", "dial_at": "2026-03-01T01:30:00Z", "dial_zone": "Asia/Shanghai"}]
    added = _outcome(Status.ADDED, tenant="pl", campaign="00001", user_data="441", contact=contact, dial_list=dial)
    message = outcomes.to_message(added, "contact-import-results", _envelope())
    assert _errors("/components/messages/outcome/payload", orjson.loads(message.payload)) == []
    bad = orjson.loads(message.payload)
    bad["data"]["contact"]["next_call_zone"] = "+02:00"
    assert _errors("/components/messages/outcome/payload", bad), "a zone is an IANA name, not an offset"

    env = Envelope("isales-file-2", "crm", "isales", {}, "contact-imports", 1, 8, 1_760_000_000_000, None, "acme")
    request = ImportRequest("acme", "C-1", "sftp", "xlsx", server_id="srv-1", file_name="a.xlsx")
    job = dataclasses.replace(job_for(env, request), due_zone="Asia/Shanghai")
    event = orjson.loads(job_events.message("contact-import-jobs", job, "accepted").payload)
    assert event["data"]["due_zone"] == "Asia/Shanghai"
    assert _errors("/components/messages/jobEvent/payload", event) == []


@pytest.mark.parametrize("reason", ["too_large", "not_json", "bad_envelope", "unknown_dialect", "too_deep"])
@pytest.mark.parametrize("value", [b"\x00not json", b"EVENT=Import&password=s3cret"])
def test_real_dead_letters_match_the_document(reason: str, value: bytes) -> None:
    message = outcomes.dead_letter(
        "contact-imports-dlq",
        UndecodableMessage(reason, "why"),
        value=value,
        key=b"k",
        headers=[("dialect", b"contact.v1")],
        origin=("contact-imports", 1, 7),
        context=TRACE,
    )
    assert _errors("/components/messages/deadLetter/headers", dict(message.headers)) == []
    assert dict(message.headers)["ce_traceparent"] == TRACE.traceparent
    bad = {**dict(message.headers), "dlq_reason": "something_else"}
    assert _errors("/components/messages/deadLetter/headers", bad), "the reason is an enum"


def test_the_example_input_matches_the_document() -> None:
    examples = json.loads((REPO / "docs" / "examples" / "contacts.json").read_text(encoding="utf-8"))
    events = [e for e in examples if isinstance(e, dict) and e.get("type") == "contact.v1"]
    assert events
    for event in events:
        # the example's bad phone is deliberate (it shows a FAILED outcome): it is the only error
        errors = _errors("/components/messages/contactV1Structured/payload", event)
        assert all(e.startswith("data/contacts/") and "phones" in e for e in errors), errors
        good = [c for c in event["data"]["contacts"] if all(p["number"] != "not-a-phone" for p in c["phones"])]
        valid = {**event, "data": {**event["data"], "contacts": good}}
        assert _errors("/components/messages/contactV1Structured/payload", valid) == []
        assert _errors("/components/messages/contactV1Binary/payload", valid["data"]) == []
    assert _errors("/components/messages/contactV1Structured/payload", {**events[0], "data": {"tenant": "x"}})
    headers = "/components/messages/contactV1Binary/headers"
    assert _errors(headers, {"ce_type": "contact.v1", "ce_id": "e-1", "ce_source": "crm://acme"}) == []
    assert _errors(headers, {"dialect": "contact.v1"}) == []
    assert _errors(headers, {"ce_id": "e-1"}), "binary mode needs ce_type or a dialect header"


def _pending(message: OutMessage, seq: int) -> Pending:
    return Pending(seq, message.topic, message.key, message.payload, [(k, v.encode()) for k, v in message.headers])


def test_messages_too_large_to_publish_whole_match_the_document() -> None:
    limit = Settings.model_fields["kafka_max_request_bytes"].default
    big = b'{"data": "' + b"x" * (2 * limit) + b'"}'
    letter = outcomes.dead_letter(
        "contact-imports-dlq",
        UndecodableMessage("too_large", "why"),
        value=big,
        key=b"k",
        headers=[("ce_type", b"contact.v1"), ("content-type", b"application/json")],
        origin=("contact-imports", 1, 7),
    )
    cut = fitting.fit(_pending(letter, 41), limit)
    headers = {k: v.decode() for k, v in cut.headers}
    assert _errors("/components/messages/deadLetter/headers", headers) == []
    assert headers["dlq_truncated"] == "true" and headers["dlq_outbox_seq"] == "41"
    assert headers["dlq_header_ce_type"] == "contact.v1" and headers["ce_type"] == "contact-import.dead-letter.v1"

    huge = _outcome(Status.ADDED, user_data="C-1", contact={"user_data": "C-1", "pad": "x" * limit}, version=1)
    reduced = fitting.fit(_pending(outcomes.to_message(huge, "contact-import-results", _envelope()), 42), limit)
    event = orjson.loads(reduced.payload)
    assert _errors("/components/messages/outcome/payload", event) == []
    assert _errors("/components/messages/outcome/headers", {k: v.decode() for k, v in reduced.headers}) == []
    assert "contact" not in event["data"] and event["data"]["details"] == {"reduced": True}
    assert dict(reduced.headers)["outcome_reduced"] == b"true" and event["data"]["version"] == 1
