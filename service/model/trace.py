"""W3C Trace Context: the ``traceparent`` and ``tracestate`` an input event carries, and the headers and
CloudEvents attributes (the distributed-tracing extension) that carry it on to its outputs.

A ``traceparent`` is ``version-traceid-spanid-flags`` in lower-case hex (``00-<32>-<16>-<2>``); an
all-zero trace or span id, version ``ff`` or a malformed value is ignored (the event is still
imported, without a trace). A ``tracestate`` is kept as given when its ``traceparent`` is valid and it
is at most 512 characters of printable ASCII, as the W3C advises; otherwise it is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
CE_TRACEPARENT = "ce_traceparent"  # the CloudEvents Kafka binding's binary-mode header
CE_TRACESTATE = "ce_tracestate"
MAX_TRACESTATE = 512
_PARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


@dataclass(slots=True)  # not frozen: a frozen dataclass is built several times slower
class TraceContext:
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits: the span the next hop is a child of
    flags: str = "01"
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @property
    def sampled(self) -> bool:
        return bool(int(self.flags, 16) & 1)

    def headers(self) -> list[tuple[str, str]]:
        """The Kafka headers that carry this context."""
        out = [(TRACEPARENT, self.traceparent)]
        return [*out, (TRACESTATE, self.tracestate)] if self.tracestate else out

    def attributes(self) -> dict[str, str]:
        """The CloudEvents distributed-tracing extension attributes (structured mode)."""
        out = {TRACEPARENT: self.traceparent}
        return {**out, TRACESTATE: self.tracestate} if self.tracestate else out

    def stored(self) -> str:
        """One text for a database column: ``traceparent`` and, after one space, ``tracestate``."""
        return f"{self.traceparent} {self.tracestate}" if self.tracestate else self.traceparent


def parse(traceparent: object, tracestate: object = None) -> TraceContext | None:
    """The context of a ``traceparent`` (and ``tracestate``), or ``None`` when it is not valid.

    A version above ``00`` may append fields (ignored); version ``00`` must be exactly 55 characters."""
    if not isinstance(traceparent, str):
        return None
    m = _PARENT.fullmatch(traceparent.strip())
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, flags, _state(tracestate))


def _state(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_TRACESTATE or not _PRINTABLE.fullmatch(value):
        return None
    return value


def from_stored(text: str | None) -> TraceContext | None:
    """The context :meth:`TraceContext.stored` wrote."""
    if not text:
        return None
    parent, _, state = text.partition(" ")
    return parse(parent, state or None)


def from_headers(headers: dict[str, str]) -> TraceContext | None:
    """From decoded (lower-cased) headers: ``traceparent``, else the binary-mode ``ce_traceparent``."""
    if TRACEPARENT in headers:
        return parse(headers[TRACEPARENT], headers.get(TRACESTATE))
    if CE_TRACEPARENT in headers:
        return parse(headers[CE_TRACEPARENT], headers.get(CE_TRACESTATE))
    return None


def from_raw(headers: Sequence[tuple[str, bytes | None]] | None) -> TraceContext | None:
    """From a Kafka message's raw headers, whatever else they hold (a message that cannot be decoded)."""
    found: dict[str, str] = {}
    for name, value in headers or ():
        lower = name.lower()
        if lower in (TRACEPARENT, TRACESTATE, CE_TRACEPARENT, CE_TRACESTATE) and value is not None:
            found[lower] = value.decode("ascii", "replace")
    return from_headers(found) if found else None


def without(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` less the trace headers (an output carries its own)."""
    return [(k, v) for k, v in headers if k.lower() not in (TRACEPARENT, TRACESTATE)]
