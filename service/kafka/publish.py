"""Publish one relay round: every message that can be sent is sent; the ones refused for good are named.

A refusal for good is an error about the message itself (too large, an invalid record, a topic the
producer may not write): sending it again gives the same answer, so the relay parks it and goes on.
Any other error (a broker away, a leader moving, a timeout) is raised, and the round is retried in order.

A broker refuses a whole batch when one record of it is too large, so messages whose batch was
refused for good are sent again one at a time: only the ones refused alone are parked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownError,
    UnsupportedForMessageFormatError,
)

from service.store.outbox import Pending

_FOR_GOOD: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
    InvalidTimestampError,
    PolicyViolationError,
    UnknownError,
)


def refused_for_good(exc: BaseException) -> bool:
    """Whether ``exc`` refuses this message whatever the retry (not the broker or the connection).

    aiokafka reports an error code it has no class for as ``UnknownError`` (code lost), INVALID_RECORD
    (87: the broker validated the record and refused it) among them; the broker's own UNKNOWN_SERVER_ERROR
    is not retriable either. Such a message is parked once it is refused alone (``parked redrive``).
    """
    return isinstance(exc, _FOR_GOOD)


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(slots=True)
class RoundResult:
    published: list[Pending] = field(default_factory=list)
    refused: list[tuple[Pending, BaseException]] = field(default_factory=list)


async def publish(producer: AIOKafkaProducer, messages: list[Pending]) -> RoundResult:
    """Send ``messages`` (in order, without waiting between them), then retry the refused ones alone.
    Raises the first error that is not a refusal for good."""
    result = RoundResult()
    sent: list[tuple[Pending, asyncio.Future[object]]] = []
    retry: list[Pending] = []
    for p in messages:
        try:
            sent.append((p, await producer.send(p.topic, p.payload, key=p.key, headers=p.headers)))
        except KafkaError as exc:
            if not refused_for_good(exc):
                raise
            result.refused.append((p, exc))  # refused by the producer itself: this message alone
    outcomes = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
    transient: BaseException | None = None
    for (p, _), got in zip(sent, outcomes, strict=True):
        if not isinstance(got, BaseException):
            result.published.append(p)
        elif refused_for_good(got):
            retry.append(p)
        elif transient is None:
            transient = got
    if transient is not None:
        raise transient
    for p in retry:
        try:
            await (await producer.send(p.topic, p.payload, key=p.key, headers=p.headers))
        except KafkaError as exc:
            if not refused_for_good(exc):
                raise
            result.refused.append((p, exc))
        else:
            result.published.append(p)
    return result
