"""What trace context costs on the hot path: CPU time of decoding and refining N events
(``Processor.prepare``: envelope, dialect, tenant checks, phone normalisation), in batches of 500 as the
consumer reads them, with and without a ``traceparent`` header.

``python -m bench.trace_overhead [--events 20000] [--runs 5] [--spans]``. CPU time is the process's
utime + stime (``time.process_time``); each figure is the median of ``--runs`` runs, the variants
interleaved run by run, in turn first (the one measured second ran a few per cent faster), with the
service's garbage-collector tuning. Tracing is unconfigured (the default) unless ``--spans``, which also measures
the same with spans made and handed to a batch processor whose exporter drops them. Run it with
``PYTHONPATH`` on a checkout from before trace context was carried to compare the code without it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence

import orjson
from aiokafka.structs import ConsumerRecord
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from service.app import tune_gc
from service.catalog.model import Catalog
from service.config import Settings
from service.dialects import default_registry
from service.pipeline.processor import Processor

BATCH = 500
TRACE = [
    ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("tracestate", b"vendor=opaque"),
]


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def messages(n: int, headers: list[tuple[str, bytes]]) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for i in range(n):
        contact = {"user_data": f"U{i}", "name": f"Customer {i}", "phones": [{"number": f"+4930{i:07d}"}]}
        event = {"specversion": "1.0", "id": f"e{i}", "source": "bench", "type": "contact.v1"}
        value = orjson.dumps({**event, "data": {"tenant": "t", "campaign": "c", "contacts": [contact]}})
        out.append(ConsumerRecord("in", 0, i, 0, 0, b"k", value, None, 1, len(value), headers))
    return out


def cpu_s(processor: Processor, msgs: list[ConsumerRecord[bytes, bytes]], catalog: Catalog) -> float:
    t0 = time.process_time()
    for i in range(0, len(msgs), BATCH):
        prepared, dead = processor.prepare(msgs[i : i + BATCH], catalog)
        assert prepared and not dead
    return time.process_time() - t0


def _with_spans(processor: Processor, msgs: list[ConsumerRecord[bytes, bytes]], catalog: Catalog) -> float:
    from service.pipeline import tracing  # not before: the bench also runs on code without it

    tracing.install(BatchSpanProcessor(_Drop()))
    try:
        return cpu_s(processor, msgs, catalog)
    finally:
        tracing.shutdown()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--spans", action="store_true", help="also with spans made (a batch processor, dropped)")
    args = ap.parse_args(argv)
    settings = Settings()
    processor = Processor(settings, default_registry(settings.schema_dir))
    catalog = Catalog(tenants={"t"})
    plain, traced = messages(args.events, []), messages(args.events, TRACE)
    cpu_s(processor, plain[:BATCH], catalog)  # warm-up: schemas compiled, caches filled
    tune_gc()
    variants: dict[str, Callable[[], float]] = {
        "no traceparent": lambda: cpu_s(processor, plain, catalog),
        "traceparent, unconfigured": lambda: cpu_s(processor, traced, catalog),
    }
    if args.spans:
        variants["traceparent, spans made"] = lambda: _with_spans(processor, traced, catalog)
    results: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for run in range(args.runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            gc.collect()
            results[name].append(variants[name]())
    base = statistics.median(results["no traceparent"])
    print(f"{args.events} events, batches of {BATCH}, median of {args.runs} runs (CPU seconds)")
    for name, runs in results.items():
        median = statistics.median(runs)
        per = median / args.events * 1e6
        print(f"{name:28} {median:7.3f} s  {per:6.1f} µs/event  {100 * (median / base - 1):+5.1f} %")


if __name__ == "__main__":
    main()
