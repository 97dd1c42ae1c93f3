"""Spans, with an in-memory exporter: the service's own Processor against a real Postgres and its relay
against the real broker. decode (child of the input's traceparent) → transaction → publish, and the
outputs carry the span of their record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from service.catalog import store as catalog_store
from service.config import Settings
from service.dialects import default_registry
from service.kafka import clients
from service.kafka.relay import Relay
from service.pipeline import tracing
from service.pipeline.processor import Processor
from service.store import db
from tests.support import contact, contacts_event, read_topic

TRACE_A, SPAN_A = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACE_B, SPAN_B = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(spans))
    try:
        yield spans
    finally:
        tracing.shutdown()


def _record(
    settings: Settings, offset: int, value: bytes, headers: list[tuple[str, bytes]]
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(settings.input_topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), headers)


def _attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {})[name]


def _ctx(span: ReadableSpan) -> SpanContext:
    ctx = span.get_span_context()
    assert ctx is not None
    return ctx


def _hex(span: ReadableSpan) -> tuple[str, str]:
    ctx = _ctx(span)
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _traceparent(span: ReadableSpan) -> str:
    """The W3C traceparent of ``span`` (a new trace's flags may also mark its id random: 03)."""
    trace_id, span_id = _hex(span)
    return f"00-{trace_id}-{span_id}-{_ctx(span).trace_flags:02x}"


def _parent(span: ReadableSpan) -> tuple[str, str]:
    assert span.parent is not None, f"{span.name} has no parent"
    return format(span.parent.trace_id, "032x"), format(span.parent.span_id, "016x")


async def _run(settings: Settings, dsn: str, batches: list[list[ConsumerRecord[bytes, bytes]]]) -> None:
    """Each batch prepared and committed in its own transaction, as the consumer does; then one relay round."""
    processor = Processor(settings, default_registry(settings.schema_dir))
    conn = await db.connect(dsn)
    try:
        catalog = await catalog_store.load(conn)
        stored = None
        for batch in batches:
            prepared, dead = processor.prepare(batch, catalog)
            end = batch[-1].offset + 1
            await processor.commit(conn, prepared, dead, {(settings.input_topic, 0): (stored, end)})
            stored = end
    finally:
        await conn.close()
    await clients.ensure_topics(settings)
    pool = await db.create_pool(settings.database_url.get_secret_value(), 2)
    producer = clients.producer(settings)
    await producer.start()
    try:
        assert await Relay(settings, pool, producer).flush_once() > 0
    finally:
        await producer.stop()
        await pool.close()


async def test_decode_transaction_publish_chain_to_the_input(
    settings: Settings, dsn: str, exporter: InMemorySpanExporter
) -> None:
    event = orjson.dumps(contacts_event("acme", [contact("U1")], event_id="traced-1"))
    state = b"vendor=opaque"
    single = [
        _record(settings, 0, event, [("traceparent", f"00-{TRACE_A}-{SPAN_A}-01".encode()), ("tracestate", state)])
    ]
    # a batch of an undecodable message (binary-mode trace header) and a structured event with no trace
    mixed = [
        _record(settings, 1, b"\xff not json", [("ce_traceparent", f"00-{TRACE_B}-{SPAN_B}-01".encode())]),
        _record(settings, 2, orjson.dumps(contacts_event("acme", [contact("U2")], event_id="untraced")), []),
    ]
    await _run(settings, dsn, [single, mixed])
    spans = list(exporter.get_finished_spans())
    decodes = {_attr(s, "messaging.kafka.offset"): s for s in spans if s.name == "decode"}
    txs = [s for s in spans if s.name == "transaction"]
    publishes = [s for s in spans if s.name == "publish"]
    assert sorted(decodes) == [0, 1, 2] and len(txs) == 2 and len(publishes) == 3

    # one message: decode is the input's child, the transaction decode's, the publish the transaction's
    decode_a, tx_a = decodes[0], txs[0]
    assert decode_a.kind == SpanKind.CONSUMER and _parent(decode_a) == (TRACE_A, SPAN_A)
    assert _parent(tx_a) == _hex(decode_a) and _hex(tx_a)[0] == TRACE_A
    outcome = next(p for p in publishes if _attr(p, "messaging.destination.name") == settings.results_topic)
    assert outcome.kind == SpanKind.PRODUCER and _parent(outcome) == _hex(tx_a)

    # the undecodable message: an error decode span in its trace, its dead letter published below it
    decode_b = decodes[1]
    assert _parent(decode_b) == (TRACE_B, SPAN_B) and decode_b.status.status_code == StatusCode.ERROR
    dead = next(p for p in publishes if _attr(p, "messaging.destination.name") == settings.dead_letter_topic)
    assert _parent(dead) == _hex(decode_b)

    # the event without a trace starts one at its decode span; a batch of one event: the transaction is its child
    decode_c, tx_c = decodes[2], txs[1]
    assert decode_c.parent is None and _parent(tx_c) == _hex(decode_c)
    third = next(p for p in publishes if p not in (outcome, dead))
    assert _parent(third) == _hex(tx_c)

    # what was published carries the transaction span (the record's own) and the tracestate as given
    results = await read_topic(settings.kafka_bootstrap, settings.results_topic, expect=2)
    by_event = {orjson.loads(m.value)["data"]["event_id"]: m for m in results}
    traced = by_event["traced-1"]
    want = f"00-{TRACE_A}-{_hex(tx_a)[1]}-01"
    assert dict(traced.headers)["traceparent"].decode() == want and dict(traced.headers)["tracestate"] == state
    ce = orjson.loads(traced.value)
    assert (ce["traceparent"], ce["tracestate"]) == (want, state.decode())
    assert dict(by_event["untraced"].headers)["traceparent"].decode() == _traceparent(tx_c)
    (letter,) = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=1)
    headers = dict(letter.headers)
    assert headers["traceparent"] == headers["ce_traceparent"] == f"00-{TRACE_B}-{_hex(decode_b)[1]}-01".encode()


async def test_a_batch_of_several_events_links_their_decode_spans(
    settings: Settings, dsn: str, exporter: InMemorySpanExporter
) -> None:
    batch = [
        _record(settings, i, orjson.dumps(contacts_event("acme", [contact(f"U{i}")], event_id=f"e{i}")), [hdr])
        for i, hdr in enumerate(
            [
                ("traceparent", f"00-{TRACE_A}-{SPAN_A}-01".encode()),
                ("traceparent", f"00-{TRACE_B}-{SPAN_B}-01".encode()),
            ]
        )
    ]
    await _run(settings, dsn, [batch])
    spans = list(exporter.get_finished_spans())
    decodes = sorted((s for s in spans if s.name == "decode"), key=lambda s: _attr(s, "messaging.kafka.offset"))
    (tx,) = [s for s in spans if s.name == "transaction"]
    assert [_parent(d) for d in decodes] == [(TRACE_A, SPAN_A), (TRACE_B, SPAN_B)]
    assert tx.parent is None and _hex(tx)[0] not in (TRACE_A, TRACE_B)
    assert [(format(lk.context.trace_id, "032x"), format(lk.context.span_id, "016x")) for lk in tx.links] == [
        _hex(d) for d in decodes
    ]
    # each outcome carries its own decode span, in its own trace; its publish span is that span's child
    publishes = {_parent(p) for p in spans if p.name == "publish"}
    assert publishes == {_hex(d) for d in decodes}
    results = await read_topic(settings.kafka_bootstrap, settings.results_topic, expect=2)
    carried = {orjson.loads(m.value)["data"]["event_id"]: dict(m.headers)["traceparent"].decode() for m in results}
    assert carried == {f"e{i}": _traceparent(d) for i, d in enumerate(decodes)}
