"""Envelope decoding: the three ways to name a dialect, and every reason to dead-letter."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.errors import UndecodableMessage
from service.model.envelope import Envelope, decode

KNOWN = {"contact.v1": "contact.v1", "importws": "importws"}


def _decode(value: bytes | None, headers: list[tuple[str, bytes]] | None = None, max_bytes: int = 10_000) -> Envelope:
    return decode(
        value=value,
        headers=headers,
        topic="in",
        partition=2,
        offset=7,
        timestamp_ms=0,
        key=None,
        max_bytes=max_bytes,
        resolve=lambda n: KNOWN.get(n.lower()),
        accepts_text=lambda d: d == "importws",
    )


def _ce(**over: Any) -> bytes:
    event = {"specversion": "1.0", "id": "e1", "source": "crm", "type": "contact.v1", "data": {"a": 1}}
    event.update(over)
    return orjson.dumps({k: v for k, v in event.items() if v is not None})


def test_structured_cloudevent() -> None:
    env = _decode(_ce())
    assert (env.dialect, env.event_id, env.event_source, env.data) == ("contact.v1", "e1", "crm", {"a": 1})


def test_binary_cloudevent_headers() -> None:
    env = _decode(b'{"a": 2}', [("ce_type", b"contact.v1"), ("ce_id", b"b1"), ("ce_source", b"s")])
    assert (env.dialect, env.event_id, env.event_source, env.data) == ("contact.v1", "b1", "s", {"a": 2})


def test_dialect_header_without_id_uses_the_message_position() -> None:
    env = _decode(b"EVENT=Import&orgidentity=1", [("dialect", b"ImportWS")])
    assert env.dialect == "importws" and env.data == "EVENT=Import&orgidentity=1"
    assert env.event_id == "in/2/7" and env.event_source == "in"


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"x" * 10_001, None, "too_large"),
        (b"\xff\xfe", None, "not_json"),
        (b"not json", [("dialect", b"contact.v1")], "not_json"),
        (b"[1, 2]", None, "bad_envelope"),
        (_ce(id=None), None, "bad_envelope"),
        (_ce(data=None), None, "bad_envelope"),
        (_ce(id=""), None, "bad_envelope"),
        (_ce(type="acme.unknown"), None, "unknown_dialect"),
        (b"{}", [("dialect", b"nope")], "unknown_dialect"),
        (None, None, "bad_envelope"),
        (b"{}", [("dialect", b"\xff")], "bad_envelope"),
    ],
)
def test_undecodable(value: bytes | None, headers: list[tuple[str, bytes]] | None, reason: str) -> None:
    with pytest.raises(UndecodableMessage) as info:
        _decode(value, headers)
    assert info.value.reason == reason and info.value.message
