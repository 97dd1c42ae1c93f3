"""U+0000 in event data: PostgreSQL refuses it in ``text`` and ``jsonb``, so such records fail at
validation (code ``input.nul_byte``, with the JSON pointer of the string), not in the store."""

from __future__ import annotations

from typing import Any

from service.errors import ErrorDetail
from service.model.contact import ContactRecord
from service.model.records import Parsed
from service.pipeline.access import reject
from service.schemas import nul_pointer, pointer

NUL_BYTE = "input.nul_byte"


def may_hold_nul(value: bytes | None) -> bool:
    """Cheap pre-check on the raw bytes: a NUL is escaped in JSON, raw in text, ``%00`` in a query."""
    return value is not None and (b"\\u0000" in value or b"\x00" in value or b"%00" in value)


def reject_nul(data: Any, parsed: list[Parsed], records_at: str | None = None) -> list[Parsed]:
    """Fail exactly the records that would carry a NUL.

    ``records_at`` names the member of the data whose i-th element is the i-th record (contact.v1
    ``contacts``, thulium ``records``, isales ``rows``): a NUL inside one element fails that record
    only, a NUL elsewhere in the data fails every record of the event. A NUL that only appears once a
    dialect decoded a value (``%00`` in an importWS query) fails its record (path ``/``).
    """
    items = data.get(records_at) if records_at is not None and isinstance(data, dict) else None
    if isinstance(items, list) and len(items) == len(parsed):
        head = nul_pointer({k: v for k, v in data.items() if k != records_at})
        where = [head or _within(records_at, i, nul_pointer(item)) for i, item in enumerate(items)]
    else:
        where = [nul_pointer(data)] * len(parsed)
    out: list[Parsed] = []
    for p, at in zip(parsed, where, strict=True):
        rec = p.record
        if at is None and isinstance(rec, ContactRecord) and nul_pointer(rec.model_dump(mode="json")) is not None:
            at = "/"
        if at is None:
            out.append(p)
        else:
            out.append(reject(p, ErrorDetail(NUL_BYTE, at, "strings must not contain U+0000 (NUL)"), first=False))
    return out


def _within(member: str | None, index: int, inner: str | None) -> str | None:
    if inner is None:
        return None
    return pointer((member, index)) + ("" if inner == "/" else inner)
