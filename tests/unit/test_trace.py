"""W3C trace context: parsing, formatting, and where the envelope finds it."""

from __future__ import annotations

import orjson
import pytest

from service.errors import UndecodableMessage
from service.model import trace
from service.model.envelope import decode
from service.model.trace import TraceContext
from service.pipeline import outcomes

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
PARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


def test_parse_and_format_round_trip() -> None:
    ctx = trace.parse(PARENT, "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
    assert ctx == TraceContext(TRACE_ID, SPAN_ID, "01", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
    assert ctx.traceparent == PARENT
    assert ctx.sampled
    assert ctx.headers() == [("traceparent", PARENT), ("tracestate", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")]
    assert ctx.attributes() == {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"}
    assert trace.from_stored(ctx.stored()) == ctx


def test_unsampled_without_state() -> None:
    ctx = trace.parse(f"00-{TRACE_ID}-{SPAN_ID}-00")
    assert ctx is not None and not ctx.sampled and ctx.tracestate is None
    assert ctx.headers() == [("traceparent", f"00-{TRACE_ID}-{SPAN_ID}-00")]
    assert trace.from_stored(ctx.stored()) == ctx


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        7,
        f"00-{'0' * 32}-{SPAN_ID}-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id
        f"ff-{TRACE_ID}-{SPAN_ID}-01",  # version ff is invalid
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # upper-case hex
        f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
        f"00_{TRACE_ID}_{SPAN_ID}_01",
    ],
)
def test_invalid_traceparent_is_ignored(value: object) -> None:
    assert trace.parse(value, "a=b") is None


def test_a_later_version_may_append_fields() -> None:
    ctx = trace.parse(f"01-{TRACE_ID}-{SPAN_ID}-01-what-comes-next")
    assert ctx is not None and ctx.traceparent == PARENT  # re-emitted as version 00


@pytest.mark.parametrize("state", ["a=b" * 200, "a=\x01", "", "   ", 5])
def test_bad_tracestate_is_dropped(state: object) -> None:
    ctx = trace.parse(PARENT, state)
    assert ctx is not None and ctx.tracestate is None


def test_from_raw_headers_prefers_the_plain_header() -> None:
    raw: list[tuple[str, bytes | None]] = [
        ("CE_TRACEPARENT", f"00-{'1' * 32}-{SPAN_ID}-01".encode()),
        ("Traceparent", PARENT.encode()),
        ("tracestate", b"k=v"),
        ("other", b"\xff"),
    ]
    assert trace.from_raw(raw) == TraceContext(TRACE_ID, SPAN_ID, "01", "k=v")
    assert trace.from_raw([("ce_traceparent", PARENT.encode()), ("ce_tracestate", b"x=1")]) == TraceContext(
        TRACE_ID, SPAN_ID, "01", "x=1"
    )
    assert trace.from_raw([("other", b"1")]) is None
    assert trace.from_raw(None) is None


def _decode(value: bytes, headers: list[tuple[str, bytes]]) -> trace.TraceContext | None:
    return decode(
        value=value,
        headers=headers,
        topic="in",
        partition=0,
        offset=1,
        timestamp_ms=0,
        key=None,
        max_bytes=10_000,
        resolve=lambda n: n if n == "contact.v1" else None,
        accepts_text=lambda d: False,
    ).trace


def test_envelope_binary_mode_header_and_ce_header() -> None:
    base = [("ce_type", b"contact.v1"), ("ce_id", b"e1"), ("ce_source", b"crm")]
    assert _decode(b"{}", [*base, ("traceparent", PARENT.encode())]) == TraceContext(TRACE_ID, SPAN_ID)
    got = _decode(b"{}", [*base, ("ce_traceparent", PARENT.encode()), ("ce_tracestate", b"v=1")])
    assert got == TraceContext(TRACE_ID, SPAN_ID, "01", "v=1")
    assert _decode(b"{}", base) is None
    assert _decode(b"{}", [*base, ("traceparent", b"garbage")]) is None  # ignored, still imported


def test_envelope_structured_mode_attribute() -> None:
    event = {"specversion": "1.0", "id": "e1", "source": "crm", "type": "contact.v1", "data": {}}
    assert _decode(orjson.dumps(event), []) is None
    with_attr = orjson.dumps({**event, "traceparent": PARENT, "tracestate": "s=1"})
    assert _decode(with_attr, [("traceparent", f"00-{'2' * 32}-{SPAN_ID}-01".encode())]) == TraceContext(
        TRACE_ID, SPAN_ID, "01", "s=1"
    )  # the event's own attribute wins over a header
    assert _decode(orjson.dumps(event), [("traceparent", PARENT.encode())]) == TraceContext(TRACE_ID, SPAN_ID)


def test_dead_letter_carries_the_context_as_given() -> None:
    ctx = TraceContext(TRACE_ID, SPAN_ID, "01", "s=1")
    err = UndecodableMessage("not_json", "value is not JSON")
    msg = outcomes.dead_letter(
        "dlq",
        err,
        value=b"{",
        key=None,
        headers=[("traceparent", b"00-old"), ("tracestate", b"old"), ("x", b"1")],
        origin=("in", 0, 5),
        context=ctx,
    )
    names = [k for k, _ in msg.headers]
    assert names.count("traceparent") == 1 and names.count("tracestate") == 1
    hdrs = dict(msg.headers)
    assert hdrs["traceparent"] == hdrs["ce_traceparent"] == PARENT
    assert hdrs["tracestate"] == hdrs["ce_tracestate"] == "s=1"
    assert hdrs["x"] == "1"
