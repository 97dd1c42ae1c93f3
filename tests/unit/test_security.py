"""Credentials and hostile input, without infrastructure: redaction of dead letters, NUL and depth
checks, Kafka client security arguments, secrets kept out of reprs and logs."""

from __future__ import annotations

import io
import ssl
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from service.catalog.model import Catalog
from service.cli.deadletters import original_headers
from service.config import REPO_SCHEMAS, Settings
from service.dialects import default_registry
from service.errors import UndecodableMessage
from service.model.contact import ContactRecord
from service.model.envelope import MAX_DEPTH, decode
from service.model.records import Parsed, Rejected
from service.pipeline import outcomes
from service.pipeline.nul import reject_nul as _reject_nul
from service.pipeline.processor import Processor
from service.runtime import logs
from service.schemas import nul_pointer, too_deep
from tests.certs import make_pki
from tests.unit.test_contact_v1 import _data, _env
from tests.unit.test_isales import CATALOG as ISALES_CATALOG
from tests.unit.test_isales import _env as isales_env
from tests.unit.test_thulium import _catalog as thulium_catalog
from tests.unit.test_thulium import _env as thulium_env

REGISTRY = default_registry(REPO_SCHEMAS)


# -- dead letters: passwords stripped, flagged ---------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"EVENT=Import&user=8001&password=s3cret&x=1", b"EVENT=Import&user=8001&password=***&x=1"),
        (b"user=u&PassWord = p%26q&source_pwd=ftp", b"user=u&PassWord =***&source_pwd=***"),
        (b"password=only", b"password=***"),
        (b'{"data":{"password":"s3\\"c","Source_Pwd":12}}', b'{"data":{"password":"***","Source_Pwd":"***"}}'),
        (b'{"data":"EVENT=Import&password=abc"}', b'{"data":"EVENT=Import&password=***"}'),
        (b"\xff\xfe&password=abc\xff&x", b"\xff\xfe&password=***&x"),  # not UTF-8: best effort still
    ],
)
def test_passwords_are_replaced(raw: bytes, expected: bytes) -> None:
    assert outcomes.redact(raw) == (expected, True)


@pytest.mark.parametrize(
    "raw", [b"password=&x=1", b'{"password":""}', b"source_password=x", b'{"passwords":"x"}', b"\x00\xff"]
)
def test_nothing_to_redact_is_left_alone(raw: bytes) -> None:
    assert outcomes.redact(raw) == (raw, False)


def _dead(value: bytes, headers: list[tuple[str, bytes]]) -> dict[str, str]:
    err = UndecodableMessage("bad_envelope", "x")
    msg = outcomes.dead_letter("dlq", err, value=value, key=b"k", headers=headers, origin=("in", 1, 2))
    assert msg.key == b"k"
    return dict(msg.headers) | {"__payload__": msg.payload.decode("utf-8", "replace")}


def test_dead_letter_flags_redaction_and_keeps_other_headers() -> None:
    got = _dead(b"password=s3cret", [("trace", b"t\x00"), ("dlq_reason", b"old")])
    assert got["__payload__"] == "password=***" and got["dlq_redacted"] == "password"
    assert got["trace"] == "t\ufffd" and got["dlq_reason"] == "bad_envelope"  # old dlq_* replaced
    assert "dlq_redacted" not in _dead(b'{"user":"u"}', [])
    replayed = original_headers([("trace", b"t"), ("dlq_reason", b"x"), ("dlq_redacted", b"password")])
    assert replayed == [("trace", b"t")]


# -- NUL bytes and depth -------------------------------------------------------------------------
def test_nul_pointer_and_depth() -> None:
    assert nul_pointer({"a": [1, "x", {"b/c": "y\x00"}]}) == "/a/2/b~1c"
    assert nul_pointer({"k\x00": 1}) == "/k\x00"
    assert nul_pointer(["\x00"]) == "/0" and nul_pointer("\x00") == "/" and nul_pointer({"a": "b"}) is None
    nested: Any = "x"
    for _ in range(MAX_DEPTH):
        nested = [nested]
    assert not too_deep(nested, MAX_DEPTH) and too_deep([nested], MAX_DEPTH)
    assert not too_deep("x", 0) and too_deep({}, 0)


def _decode(value: bytes) -> Any:
    return decode(
        value=value,
        headers=[],
        topic="in",
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=None,
        max_bytes=10**6,
        resolve=REGISTRY.resolve,
        accepts_text=REGISTRY.accepts_text,
    )


def _event(data: str, event_id: str = "e") -> bytes:
    return f'{{"specversion":"1.0","id":"{event_id}","source":"s","type":"contact.v1","data":{data}}}'.encode()


def test_decode_dead_letters_too_deep_data_and_nul_in_ids() -> None:
    assert _decode(_event("[" * MAX_DEPTH + "]" * MAX_DEPTH)).data is not None
    with pytest.raises(UndecodableMessage) as deep:
        _decode(_event("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)))
    assert deep.value.reason == "too_deep"
    with pytest.raises(UndecodableMessage) as nul:
        _decode(_event("{}", event_id="a\\u0000b"))
    assert nul.value.reason == "bad_envelope"
    with pytest.raises(UndecodableMessage) as utf8:
        _decode(_event('"?"').replace(b"?", b"\xff"))
    assert utf8.value.reason == "not_json"


def test_an_empty_ce_type_header_is_an_unknown_dialect_not_a_crash() -> None:
    """Found by the fuzzer: an empty ``ce_type`` and no ``dialect`` header raised KeyError."""
    with pytest.raises(UndecodableMessage) as err:
        decode(
            value=b"{}",
            headers=[("ce_type", b"")],
            topic="in",
            partition=0,
            offset=0,
            timestamp_ms=0,
            key=None,
            max_bytes=100,
            resolve=REGISTRY.resolve,
            accepts_text=REGISTRY.accepts_text,
        )
    assert err.value.reason == "unknown_dialect"


def _nul_failures(parsed: list[Parsed]) -> list[str | None]:
    """Per record: the pointer of its ``input.nul_byte`` error, or ``None`` when it has none."""
    out: list[str | None] = []
    for p in parsed:
        errors = p.record.errors if isinstance(p.record, Rejected) else []
        out.append(next((e.path for e in errors if e.code == "input.nul_byte"), None))
    return out


def test_nul_in_a_record_fails_only_that_record_with_the_pointer() -> None:
    processor = Processor(Settings(phone_validation="off"), REGISTRY)
    data = _data({"user_data": "U1", "name": "a\x00b", "phones": [{"number": "+4420"}]}, {"user_data": "U2"})
    parsed = processor._parse(_env(data), Catalog())
    assert _nul_failures(parsed) == ["/contacts/0/name", None]
    assert isinstance(parsed[1].record, ContactRecord) and parsed[1].record.contact.user_data == "U2"
    assert isinstance(parsed[0].record, Rejected) and parsed[0].record.user_data == "U1"


def test_nul_outside_the_records_fails_every_record() -> None:
    processor = Processor(Settings(phone_validation="off"), REGISTRY)
    parsed = processor._parse(_env(_data({"user_data": "U1"}, {"user_data": "U2"}, campaign="c\x00")), Catalog())
    assert _nul_failures(parsed) == ["/campaign", "/campaign"]


def test_nul_per_record_in_thulium_and_isales_rows() -> None:
    processor = Processor(Settings(phone_validation="off"), REGISTRY)
    records = [{"customer_id": 1, "agent_login": "x\x00"}, {"customer_id": 2}]
    parsed = processor._parse(thulium_env({"id": "00001", "records": records}), thulium_catalog())
    assert _nul_failures(parsed) == ["/records/0/agent_login", None]
    assert isinstance(parsed[1].record, ContactRecord)
    rows = [{"called": [{"calledNo": "5550001"}]}, {"called": [{"calledNo": "5550002"}], "callData": "\x00"}]
    parsed = processor._parse(isales_env({"vdnId": 1, "campaignId": "C-1", "rows": rows}), ISALES_CATALOG)
    assert _nul_failures(parsed) == [None, "/rows/1/callData"]
    assert isinstance(parsed[0].record, ContactRecord)


def test_nul_decoded_by_a_dialect_fails_only_its_record() -> None:
    """A NUL the raw data does not hold (``%00`` in an importWS query) is caught on the record."""
    data = _data({"user_data": "U1", "name": "a\x00b", "phones": [{"number": "+4420"}]})
    parsed = REGISTRY.get("contact.v1").parse(_env(data), Catalog())
    checked = _reject_nul("EVENT=Import&context=name%3Da%00b", parsed)
    record = checked[0].record
    assert isinstance(record, Rejected) and [(e.code, e.path) for e in record.errors] == [("input.nul_byte", "/")]
    clean = REGISTRY.get("contact.v1").parse(_env(_data({"user_data": "U2", "phones": [{"number": "+44"}]})), Catalog())
    assert _reject_nul({"x": "y"}, clean) == clean


# -- Kafka client security -----------------------------------------------------------------------
def test_sasl_plaintext_scram_arguments() -> None:
    s = Settings(
        kafka_bootstrap="b1:9096,b2:9096",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("hunter2"),
    )
    assert s.kafka_common() == {
        "bootstrap_servers": "b1:9096,b2:9096",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "hunter2",
    }


def test_sasl_ssl_scram_with_a_ca_and_a_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    s = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("hunter2"),
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
    )
    args = s.kafka_common()
    ctx = args.pop("ssl_context")
    assert args == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "hunter2",
    }
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    cas = ctx.get_ca_certs()
    assert len(cas) == 1 and "('commonName', 'test-ca')" in str(cas[0]["subject"])


# -- secrets never rendered ----------------------------------------------------------------------
SECRETS = ("kafka-pass-XYZ", "db-pass-XYZ")


def _secret_settings() -> Settings:
    return Settings(
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr(SECRETS[0]),
        database_url=SecretStr(f"postgresql://svc:{SECRETS[1]}@db:5432/cis"),
    )


def test_settings_never_render_secrets() -> None:
    s = _secret_settings()
    rendered = [repr(s), str(s), s.model_dump_json(), str(s.model_dump()), f"{s.database_url}"]
    for text in rendered:
        assert not any(secret in text for secret in SECRETS), text
    assert s.kafka_sasl_password is not None and s.kafka_sasl_password.get_secret_value() == SECRETS[0]


def test_logged_settings_do_not_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    structlog.reset_defaults()
    try:
        logs.setup("INFO")
        log = structlog.get_logger("test")
        s = _secret_settings()
        log.info("settings", settings=s, dumped=s.model_dump(), url=s.database_url)
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert '"event":"settings"' in text and "**********" in text
    assert not any(secret in text for secret in SECRETS), text
