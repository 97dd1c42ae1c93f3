"""Kafka over mutual TLS, from settings alone: a dedicated tansu broker behind a TLS-terminating proxy on
loopback that requires a client certificate of the test CA (the broker advertises the proxy's
address, so every connection goes through it). The service consumes, creates its topics and
publishes outcomes through it; a client without a certificate, or without TLS, gets nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from service.config import Settings
from service.ops.embedded import Broker, free_port
from tests.certs import Pki, make_pki
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce


class TlsProxy:
    """Terminates TLS (client certificate required) on ``port`` and pipes bytes to a plaintext port,
    in a thread with its own event loop (the test's loop blocks while it waits for the service)."""

    def __init__(self, pki: Pki, port: int, upstream: int) -> None:
        self.port, self.upstream = port, upstream
        self.accepted = 0  # connections whose TLS handshake succeeded (and were piped to the broker)
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
        self._ctx.verify_mode = ssl.CERT_REQUIRED
        self._ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._started.wait(30), "the TLS proxy did not start"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self._ctx)
        )
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Pki, int, TlsProxy]]:
    pki = make_pki(tmp_path / "pki")
    proxy_port, broker_port = free_port(), free_port()
    broker = Broker(broker_port, tmp_path / "tls-broker.log", advertised_port=proxy_port)
    broker.start()
    proxy = TlsProxy(pki, proxy_port, broker_port)
    proxy.start()
    try:
        yield pki, proxy_port, proxy
    finally:
        proxy.stop()
        broker.stop()


async def _refused(settings: Settings) -> str:
    """Why a producer with these settings cannot start (it must not)."""
    producer = AIOKafkaProducer(**settings.kafka_common(), request_timeout_ms=5000, enable_idempotence=False)
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        return type(exc).__name__
    finally:
        await producer.stop()
    raise AssertionError("connected without an acceptable client certificate")


async def test_service_and_clients_speak_mutual_tls_from_settings(
    settings: Settings, spawn: Callable[..., ServiceProcess], tls_broker: tuple[Pki, int, TlsProxy]
) -> None:
    pki, port, proxy = tls_broker
    tls = settings.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{port}",
            "kafka_security_protocol": "SSL",
            "kafka_ssl_cafile": pki.ca,
            "kafka_ssl_certfile": pki.client_cert,
            "kafka_ssl_keyfile": pki.client_key,
        }
    )
    svc = spawn(tls)
    svc.wait_log("partitions assigned")
    await produce(tls, [contacts_event("acme", [contact("T1"), contact("T2")], event_id="tls-1")], key=b"k")
    got = await outcomes(tls, expect=2)
    assert sorted((o["user_data"], o["status"]) for o in got) == [("T1", "ADDED"), ("T2", "ADDED")]

    # the CA alone (no client certificate) and plaintext are both turned away before the broker
    assert proxy.accepted > 0
    accepted = proxy.accepted
    no_cert = tls.model_copy(update={"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None})
    assert await _refused(no_cert) == "KafkaConnectionError"
    assert await _refused(tls.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})) == "KafkaConnectionError"
    assert proxy.accepted == accepted
