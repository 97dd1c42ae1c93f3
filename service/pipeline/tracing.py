"""OpenTelemetry spans, only when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, the SDK's standard variables; the other ``OTEL_*`` variables
apply as the SDK reads them: ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``, headers, timeouts).

``decode``: one per input message, a child of the message's ``traceparent`` (a new trace without one);
``transaction``: one per batch transaction, a child of the decode span of a batch of one message, else
a new trace linked to every message's decode span; ``publish``: one per relayed message that carries a
``traceparent``, its child. An output carries the span of its record: the transaction span when it is
the input's child, else the decode span (the W3C creation context the relay's publish span descends
from). Unconfigured, :data:`ENABLED` is false, callers check it and no span object is made.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

from opentelemetry import trace as otel
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from service.model.trace import TraceContext, from_raw
from service.store.outbox import Pending

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
ENABLED = False  # checked by the callers before any tracing call: unconfigured, nothing else runs
_provider: TracerProvider | None = None
_tracer: otel.Tracer = otel.NoOpTracer()


def configure() -> bool:
    """Export spans over OTLP/HTTP when an endpoint is configured; whether they are."""
    if not any(os.environ.get(v) for v in ENDPOINT_VARIABLES):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    install(BatchSpanProcessor(OTLPSpanExporter()))
    return True


def install(processor: SpanProcessor) -> None:
    """Make spans and hand them to ``processor`` (the OTLP batch exporter, or a test's in-memory one)."""
    global ENABLED, _provider, _tracer
    name = os.environ.get("OTEL_SERVICE_NAME") or "contact-import"
    _provider = TracerProvider(resource=Resource.create({"service.name": name}))
    _provider.add_span_processor(processor)
    _tracer = _provider.get_tracer("contact-import")
    ENABLED = True


def shutdown() -> None:
    """Export what is buffered and make no more spans."""
    global ENABLED, _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    ENABLED, _provider, _tracer = False, None, otel.NoOpTracer()


def _span_context(ctx: TraceContext) -> SpanContext:
    state = TraceState.from_header([ctx.tracestate]) if ctx.tracestate else None
    return SpanContext(int(ctx.trace_id, 16), int(ctx.span_id, 16), True, TraceFlags(int(ctx.flags, 16)), state)


def _parent(ctx: TraceContext | None) -> Context:
    if ctx is None:
        return Context()  # a new trace
    return otel.set_span_in_context(otel.NonRecordingSpan(_span_context(ctx)))


def _own(span: otel.Span, received: TraceContext | None) -> TraceContext:
    sc = span.get_span_context()
    state = received.tracestate if received is not None else None
    return TraceContext(format(sc.trace_id, "032x"), format(sc.span_id, "016x"), format(sc.trace_flags, "02x"), state)


def decoded(
    received: TraceContext | None, start_ns: int, where: tuple[str, int, int], error: str | None = None
) -> TraceContext:
    """The ``decode`` span of a message read at ``where`` (topic, partition, offset), begun at
    ``start_ns``; ``error``: why it could not be decoded. Returns the span's context."""
    span = _tracer.start_span(
        "decode",
        context=_parent(received),
        kind=SpanKind.CONSUMER,
        start_time=start_ns,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": where[0],
            "messaging.destination.partition.id": str(where[1]),
            "messaging.kafka.offset": where[2],
        },
    )
    if error is not None:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()
    return _own(span, received)


@asynccontextmanager
async def transaction(traces: Iterable[TraceContext | None]) -> AsyncIterator[None]:
    """The ``transaction`` span of one batch transaction, current while the batch's outputs are built."""
    if not ENABLED:
        yield
        return
    found = list(traces)
    single = found[0] if len(found) == 1 else None
    links = [] if single else [Link(_span_context(t)) for t in found if t is not None]
    context = _parent(single)
    with _tracer.start_as_current_span(
        "transaction", context=context, links=links, attributes={"messaging.batch.message_count": len(found)}
    ):
        yield


def carried(received: TraceContext) -> TraceContext:
    """What an output of a record with context ``received`` carries: the current transaction span's
    context when it is that record's child, else ``received``."""
    if not ENABLED:
        return received
    span = otel.get_current_span()
    parent = span.parent if isinstance(span, ReadableSpan) else None
    if parent is None or format(parent.span_id, "016x") != received.span_id:
        return received
    return _own(span, received)


def published(messages: Sequence[Pending], start_ns: int) -> None:
    """A ``publish`` span for each relayed message that carries a context, its child."""
    end = time.time_ns()
    for p in messages:
        ctx = from_raw(p.headers)
        if ctx is None:
            continue
        span = _tracer.start_span(
            "publish",
            context=_parent(ctx),
            kind=SpanKind.PRODUCER,
            start_time=start_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": p.topic,
            },
        )
        span.end(end_time=end)
