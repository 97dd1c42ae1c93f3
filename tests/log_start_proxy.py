"""A loopback front for a tansu broker that makes a partition's log start later than it is.

tansu has no DeleteRecords (it closes the connection) and memory storage has no retention, so
records cannot really be deleted under a consumer. This front reads the Kafka frames both ways
and, for each partition given a log start in ``log_start``: answers ListOffsets(EARLIEST) with that
offset, and a Fetch from below it with OFFSET_OUT_OF_RANGE (no records), as a broker whose log
had been truncated there does. Everything else is passed through unchanged; the broker advertises
the front's port, so every connection comes through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

from aiokafka.protocol import fetch, offset
from aiokafka.protocol.api import RequestStruct

from tests.kafka_proxy import KafkaProxy, _frame

FETCH, LIST_OFFSETS, EARLIEST, OFFSET_OUT_OF_RANGE = 1, 2, -2, 1
_MODULES = {FETCH: (fetch, "FetchRequest"), LIST_OFFSETS: (offset, "OffsetRequest")}


class LogStartProxy(KafkaProxy):
    def __init__(self, port: int, upstream: int) -> None:
        super().__init__(port, upstream)
        self.log_start: dict[tuple[str, int], int] = {}  # set from the test's thread
        self.earliest_rewritten = 0  # ListOffsets answers moved to a log start
        self.fetches_refused = 0  # Fetch answers turned into OFFSET_OUT_OF_RANGE

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        pending: dict[int, RequestStruct] = {}  # correlation id -> the request it answers
        try:
            self.accepted += 1
            await asyncio.gather(self._requests(reader, up_writer, pending), self._answers(up_reader, writer, pending))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    w.close()

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: dict[int, RequestStruct]
    ) -> None:
        try:
            while True:
                frame = await _frame(reader)
                api_key, version, correlation = struct.unpack(">hhi", frame[:8])
                if api_key in _MODULES:
                    module, name = _MODULES[api_key]
                    client_id = max(struct.unpack(">h", frame[8:10])[0], 0)
                    pending[correlation] = getattr(module, f"{name}_v{version}").decode(frame[10 + client_id :])
                writer.write(struct.pack(">i", len(frame)) + frame)
                await writer.drain()
        finally:
            writer.close()

    async def _answers(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: dict[int, RequestStruct]
    ) -> None:
        try:
            while True:
                frame = await _frame(reader)
                (correlation,) = struct.unpack(">i", frame[:4])
                request = pending.pop(correlation, None)
                if request is not None and self.log_start:
                    frame = frame[:4] + self._rewrite(request, request.RESPONSE_TYPE.decode(frame[4:])).encode()
                writer.write(struct.pack(">i", len(frame)) + frame)
                await writer.drain()
        finally:
            writer.close()

    def _rewrite(self, request: RequestStruct, response: Any) -> Any:
        at = _field(request, "partitions", "timestamp" if request.API_KEY == LIST_OFFSETS else "fetch_offset")
        asked = {(t[0], p[0]): p[at] for t in request.topics for p in t[1]}
        topics = []
        for topic, parts in response.topics:
            rows = []
            for row in parts:
                row, start = list(row), self.log_start.get((topic, row[0]))
                if start is not None and request.API_KEY == LIST_OFFSETS and asked.get((topic, row[0])) == EARLIEST:
                    at = _field(response, "partitions", "offset")
                    if row[at] < start:
                        row[at] = start
                        self.earliest_rewritten += 1
                elif start is not None and request.API_KEY == FETCH and asked.get((topic, row[0]), start) < start:
                    row[1] = OFFSET_OUT_OF_RANGE
                    row[_field(response, "partitions", "message_set")] = b""
                    self.fetches_refused += 1
                rows.append(tuple(row))
            topics.append((topic, rows))
        response.topics = topics
        return response


def _field(message: Any, array: str, name: str) -> int:
    """The position of ``name`` in the rows of a message's ``topics[].<array>[]``."""
    topics = message.SCHEMA.fields[message.SCHEMA.names.index("topics")].array_of
    rows = topics.fields[topics.names.index(array)].array_of
    index: int = rows.names.index(name)
    return index
