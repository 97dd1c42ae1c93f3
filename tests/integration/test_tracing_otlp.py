"""OTLP export as the service configures it: spans only when an endpoint is set, sent over HTTP to it
(a loopback receiver here), and none made otherwise."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from service.model import trace
from service.pipeline import tracing

PARENT = trace.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Receiver.received
    finally:
        server.shutdown()
        server.server_close()


def test_unconfigured_makes_no_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure() is False and tracing.ENABLED is False
    assert PARENT is not None and tracing.carried(PARENT) is PARENT  # carried as received


def test_configured_exports_spans_over_otlp_http(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    endpoint, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    assert tracing.configure() is True
    try:
        own = tracing.decoded(PARENT, time.time_ns(), ("contact-imports", 1, 7))
    finally:
        tracing.shutdown()  # flushes the batch processor
    assert tracing.ENABLED is False
    assert PARENT is not None and own.trace_id == PARENT.trace_id and own.span_id != PARENT.span_id
    ((path, content_type, body),) = received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    # the protobuf holds the span's name, its trace id and its parent's span id as raw bytes
    assert b"decode" in body and b"contact-import" in body
    assert bytes.fromhex(PARENT.trace_id) in body and bytes.fromhex(PARENT.span_id) in body
    assert bytes.fromhex(own.span_id) in body
