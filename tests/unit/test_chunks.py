"""A fetch is split into transactions bounded by bytes, each partition's messages kept in order."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from service.kafka.consumer import chunks


@dataclass
class M:
    offset: int
    value: bytes


def test_chunks_bound_bytes_and_keep_partition_order() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    batch = {a: [M(i, b"x" * 400) for i in range(5)], b: [M(i, b"y" * 400) for i in range(3)]}
    out = list(chunks(batch, 1000))
    assert all(sum(len(m.value) for ms in c.values() for m in ms) <= 1000 for c in out)
    for tp, msgs in batch.items():
        seen = [m.offset for c in out for m in c.get(tp, [])]
        assert seen == [m.offset for m in msgs]  # every message once, in order


def test_a_message_larger_than_the_budget_is_a_chunk_of_its_own() -> None:
    a = TopicPartition("t", 0)
    out = list(chunks({a: [M(0, b"x" * 10), M(1, b"x" * 5000), M(2, b"x" * 10)]}, 1000))
    assert [[m.offset for m in c[a]] for c in out] == [[0], [1], [2]]
