"""What an erased person leaves in the outbox: stored outcomes reduced, dead letters replaced (pure).

An outcome about the person keeps what de-duplication and replays need — its ids, event, record
index, tenant, campaign, status and times — and loses the rest: the UserData (and the CloudEvents
subject and the message key) become the hashed form, ``contact``, ``dial_list`` and ``native`` go,
``details`` become ``{"erased": true}``, error and warning messages become ``erased``. A dead
letter that mentions the person becomes a placeholder: no body, no key, only the service's own
headers, ``dlq_redacted: erased`` (the dead-letter replay skips it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson

from service.model.erase import EraseRecord, hashed

OUTCOME_TYPE = "contact-import.outcome.v1"  # service.pipeline.outcomes.RESULT_TYPE
DEAD_LETTER_TYPE = "contact-import.dead-letter.v1"  # service.pipeline.outcomes.DEAD_LETTER_TYPE
KEPT = ("outcome_id", "event_id", "record_index", "dialect", "tenant", "campaign", "status", "version", "record_id")
KEPT_TOO = ("dry_run", "source", "received_at", "processed_at")
PLACEHOLDER = b'{"erased":true,"by":"contact.erase"}'
ERASED = "erased"

Headers = list[tuple[str, str]]


def reduced_outcome(payload: bytes, people: Collection[tuple[str, str]]) -> tuple[bytes, bytes, tuple[str, str]] | None:
    """The reduced outcome CloudEvent, its new key and whom it was about when ``payload`` is about one
    of ``people`` ((tenant, UserData) pairs), else ``None``."""
    try:
        event = orjson.loads(payload)
        data = event["data"]
        who = (data.get("tenant"), data.get("user_data"))
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    if who not in people:
        return None
    subject = hashed(*who)
    kept: dict[str, Any] = {k: data[k] for k in (*KEPT, *KEPT_TOO) if k in data}
    kept.update(
        user_data=subject,
        errors=[_plain(e) for e in data.get("errors", [])],
        warnings=[_plain(w) for w in data.get("warnings", [])],
        details={"erased": True},
    )
    event.update(subject=subject, data=kept)
    return orjson.dumps(event), subject.encode(), who


def _plain(error: Any) -> dict[str, str]:
    found = error if isinstance(error, dict) else {}
    return {"code": str(found.get("code", "")), "path": str(found.get("path", "")), "message": ERASED}


def mentions(person: EraseRecord, payload: bytes, key: bytes | None, headers: Headers) -> bool:
    """Whether a dead letter mentions ``person``: the UserData appears in its body, key or headers,
    and so does the tenant — or the message had no body (a tombstone keyed by the UserData names no
    tenant)."""
    text = b"\x00".join([payload, key or b"", orjson.dumps(headers)])
    return person.user_data.encode() in text and (not payload or person.tenant.encode() in text)


def placeholder_headers(headers: Headers) -> Headers:
    """The dead letter's own headers (``ce_*`` and ``dlq_*``, not the original's kept ones)."""
    own = [
        (k, v)
        for k, v in headers
        if (k.startswith("ce_") or k.startswith("dlq_")) and not k.startswith("dlq_header_") and k != "dlq_redacted"
    ]
    return [*own, ("dlq_redacted", ERASED)]


PATTERN_CHARS = 2000  # a longer alternation makes PostgreSQL's regex compiler ask for gigabytes


def patterns(people: Sequence[EraseRecord]) -> list[str]:
    """POSIX regular expressions (each at most about ``PATTERN_CHARS`` long) that together match any
    of the people's UserData in a dead letter's body and key as ``encode(..., 'escape')`` writes them
    (byte for byte) or in its headers as JSON text: one pass per expression over each row finds the
    candidates, :func:`mentions` then decides on the exact bytes."""
    forms = sorted({f for p in people for f in (p.user_data, _escaped(p.user_data.encode()))})
    out: list[list[str]] = [[]]
    for literal in ("".join(c if c.isalnum() else "\\" + c for c in f) for f in forms):
        if out[-1] and sum(len(x) + 1 for x in out[-1]) + len(literal) > PATTERN_CHARS:
            out.append([])
        out[-1].append(literal)
    return ["|".join(group) for group in out if group]


def _escaped(raw: bytes) -> str:
    """``raw`` as PostgreSQL's ``encode(raw, 'escape')``: NUL and bytes from 0x80 as ``\\ooo``, a
    backslash doubled, every other byte as itself."""
    return "".join("\\\\" if b == 0x5C else f"\\{b:03o}" if b == 0 or b >= 0x80 else chr(b) for b in raw)
