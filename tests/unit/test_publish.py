"""Which broker errors refuse a message for good, and how a round treats a batch the broker refused.

The embedded broker takes messages of any size, so a broker-side refusal of a whole batch (Kafka's
message.max.bytes, or a topic's max.message.bytes, below the producer's limit) cannot be produced on it:
this stands in for the broker with the smallest object that answers like one, a producer whose every
send is one batch and whose batches are refused when one of their records is larger than its limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    BrokerResponseError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    for_code,
)

from service.kafka.publish import publish, refused_for_good
from service.store.outbox import Pending


@pytest.mark.parametrize(
    ("exc", "for_good"),
    [
        (MessageSizeTooLargeError(), True),
        (TopicAuthorizationFailedError(), True),
        (for_code(87)(), True),  # INVALID_RECORD, which aiokafka has no class for
        (for_code(17)(), True),  # INVALID_TOPIC_EXCEPTION
        (for_code(18)(), True),  # RECORD_LIST_TOO_LARGE
        (KafkaTimeoutError(), False),
        (KafkaConnectionError(), False),
        (NotLeaderForPartitionError(), False),
        (UnknownTopicOrPartitionError(), False),  # may be created yet: retried in order
        (BrokerResponseError(), False),
    ],
)
def test_only_errors_about_the_message_itself_are_for_good(exc: BaseException, for_good: bool) -> None:
    assert refused_for_good(exc) is for_good


class _Batching:
    """Sends in batches of ``batch`` messages (one future each); a batch holding a record over ``limit``
    bytes is refused whole, as a broker answers a produce request; ``down``: every send times out."""

    def __init__(self, limit: int, batch: int, down: bool = False) -> None:
        self.limit, self.batch, self.down = limit, batch, down
        self.sent: list[bytes] = []
        self._open: list[tuple[bytes, asyncio.Future[object]]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[object]:
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._open.append((value, fut))
        if len(self._open) >= self.batch:
            self._close()
        else:
            asyncio.get_running_loop().call_soon(self._close)
        return fut

    def _close(self) -> None:
        batch, self._open = self._open, []
        refused = any(len(v) > self.limit for v, _ in batch)
        for v, fut in batch:
            if self.down:
                fut.set_exception(KafkaTimeoutError())
            elif refused:
                fut.set_exception(MessageSizeTooLargeError())
            else:
                self.sent.append(v)
                fut.set_result(None)


def _rows(*values: bytes) -> list[Pending]:
    return [Pending(i + 1, "t", None, v, []) for i, v in enumerate(values)]


async def test_a_batch_refused_for_one_record_is_sent_again_one_by_one() -> None:
    producer = _Batching(limit=10, batch=3)
    result = await publish(producer, _rows(b"a", b"x" * 20, b"b", b"c"))
    assert [p.seq for p, _ in result.refused] == [2]
    assert sorted(p.seq for p in result.published) == [1, 3, 4]
    assert sorted(producer.sent) == [b"a", b"b", b"c"]


async def test_a_transient_error_fails_the_round() -> None:
    with pytest.raises(KafkaTimeoutError):
        await publish(_Batching(limit=10, batch=3, down=True), _rows(b"a", b"b"))
