"""Kafka client security from settings alone, over real connections on loopback.

tansu's memory mode takes no SASL users and checks no client certificates, so a dedicated broker per
test sits behind a loopback front (tests/kafka_proxy.py) that terminates TLS (optionally requiring a
client certificate of a test CA) and answers SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 itself; the
broker advertises the front's address, so every connection goes through it. The service consumes,
creates its topics and publishes outcomes through it; clients without the certificate, the TLS or
the password get nowhere, and the password never shows in the service's log.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from service.cli.embedded import Broker, free_port
from service.config import Settings
from tests.certs import Pki, make_pki
from tests.kafka_proxy import KafkaProxy
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce

PASSWORD = "kafka-pass-XYZ"


class Front:
    def __init__(self, tmp: Path) -> None:
        self.pki = make_pki(tmp / "pki")
        self.port, self._broker_port = free_port(), free_port()
        self._broker = Broker(self._broker_port, tmp / "broker.log", advertised_port=self.port)
        self._tmp = tmp
        self.proxy: KafkaProxy | None = None

    def start(self, *, client_cert: bool, users: dict[str, str] | None = None) -> KafkaProxy:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.pki.ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if client_cert else ssl.CERT_NONE
        ctx.load_cert_chain(str(self.pki.server_cert), str(self.pki.server_key))
        self._broker.start()
        self.proxy = KafkaProxy(self.port, self._broker_port, tls=ctx, users=users).start()
        return self.proxy

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self._broker.stop()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    f = Front(tmp_path)
    yield f
    f.stop()


def _tls(settings: Settings, pki: Pki, port: int, **more: Any) -> Settings:
    values = {
        "kafka_bootstrap": f"127.0.0.1:{port}",
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": pki.ca,
        **more,
    }
    return settings.model_copy(update=values)


async def _refused(settings: Settings) -> str:
    """Why a producer with these settings cannot start (it must not)."""
    producer = AIOKafkaProducer(**settings.kafka_common(), request_timeout_ms=5000, enable_idempotence=False)
    try:
        await producer.start()
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        await producer.stop()
    raise AssertionError("connected without acceptable credentials")


async def _round_trip(client: Settings, event_id: str, *users: str, expect: int) -> None:
    await produce(client, [contacts_event("acme", [contact(u) for u in users], event_id=event_id)], key=b"k")
    got = await outcomes(client, expect=expect)
    assert {(o["user_data"], o["status"]) for o in got if o["event_id"] == event_id} == {(u, "ADDED") for u in users}


async def test_mutual_tls_from_settings(settings: Settings, spawn: Callable[..., ServiceProcess], front: Front) -> None:
    proxy = front.start(client_cert=True)
    tls = _tls(settings, front.pki, front.port, kafka_ssl_certfile=front.pki.client_cert,
               kafka_ssl_keyfile=front.pki.client_key)  # fmt: skip
    svc = spawn(tls)
    svc.wait_log("partitions assigned")
    await _round_trip(tls, "tls-1", "T1", "T2", expect=2)

    # the CA alone (no client certificate) and plaintext are both turned away before the broker
    assert proxy.accepted > 0
    accepted = proxy.accepted
    no_cert = tls.model_copy(update={"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None})
    assert await _refused(no_cert) == "KafkaConnectionError"
    assert await _refused(tls.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})) == "KafkaConnectionError"
    assert proxy.accepted == accepted


async def test_sasl_scram_and_plain_over_tls_from_settings(
    settings: Settings, spawn: Callable[..., ServiceProcess], front: Front
) -> None:
    proxy = front.start(client_cert=False, users={"svc": PASSWORD, "crm": "crm-pass"})
    sasl = _tls(
        settings,
        front.pki,
        front.port,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr(PASSWORD),
    )
    svc = spawn(sasl)
    svc.wait_log("partitions assigned")
    await _round_trip(sasl, "scram-512", "S1", expect=1)
    assert ("SCRAM-SHA-512", "svc") in proxy.authenticated

    # other clients, other mechanisms: SCRAM-SHA-256 and PLAIN (over TLS) work too
    for n, mechanism in enumerate(("SCRAM-SHA-256", "PLAIN"), start=2):
        client = sasl.model_copy(
            update={"kafka_sasl_mechanism": mechanism, "kafka_sasl_username": "crm",
                    "kafka_sasl_password": SecretStr("crm-pass")}
        )  # fmt: skip
        await _round_trip(client, mechanism, f"S{n}", expect=n)
        assert (mechanism, "crm") in proxy.authenticated

    # a wrong password, an unknown user, no SASL at all: refused before the broker
    accepted = proxy.accepted
    wrong = sasl.model_copy(update={"kafka_sasl_password": SecretStr("wrong")})
    assert await _refused(wrong)
    assert await _refused(sasl.model_copy(update={"kafka_sasl_username": "nobody"}))
    assert await _refused(sasl.model_copy(update={"kafka_security_protocol": "SSL"}))
    assert proxy.accepted == accepted
    assert ("SCRAM-SHA-512", "svc") in proxy.refused and ("SCRAM-SHA-512", "nobody") in proxy.refused
    assert PASSWORD not in svc.log() and "crm-pass" not in svc.log()
