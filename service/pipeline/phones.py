"""Normalise every record's phones before the store: E.164, time zones, invalid numbers flagged.

An invalid number stays on the contact (``invalid: true``, as given) and is never dialled; it is a
warning (``phone.invalid``, the pointer to the number in the event). A number the input already
flags invalid (the dialler's ``bPhoneNumberNInvalid``) is respected (``phone.flagged_invalid``).
A record whose phones are all invalid FAILS (``phone.none_valid``); a record without phones is
left alone (Thulium's records name existing customers).
"""

from __future__ import annotations

from dataclasses import replace

from service.catalog.model import Catalog
from service.dialects.base import Parsed
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, Phone
from service.model.phones import normalise, region_code
from service.pipeline.access import reject

INVALID = "phone.invalid"
FLAGGED = "phone.flagged_invalid"
NONE_VALID = "phone.none_valid"


def region_for(catalog: Catalog, tenant: str, campaign: str, fallback: str | None) -> str | None:
    """The default region of a campaign's numbers: the catalog's, else the service's setting."""
    found = catalog.campaign(tenant, campaign)
    return region_code(found.default_region if found else None) or region_code(fallback)


def normalise_all(parsed: list[Parsed], catalog: Catalog, fallback_region: str | None) -> list[Parsed]:
    return [_one(p, catalog, fallback_region) if isinstance(p.record, ContactRecord) else p for p in parsed]


def _one(p: Parsed, catalog: Catalog, fallback_region: str | None) -> Parsed:
    rec = p.record
    assert isinstance(rec, ContactRecord)
    phones = rec.contact.phones
    if not phones:
        return p
    region = region_for(catalog, rec.tenant, rec.campaign, fallback_region)
    warnings = list(p.warnings)
    out: list[Phone] = []
    for j, phone in enumerate(phones):
        path = phone.path or f"/phones/{j}/number"
        if phone.invalid:
            out.append(phone)
            warnings.append(ErrorDetail(FLAGGED, path, "the number is flagged invalid in the input; not dialled"))
            continue
        n = normalise(phone.number, region)
        if n.valid and n.e164 is not None:
            raw = phone.number if phone.number != n.e164 else None
            out.append(phone.model_copy(update={"number": n.e164, "raw": raw, "time_zones": n.time_zones}))
            continue
        out.append(phone.model_copy(update={"invalid": True}))
        where = f" for region {region}" if region else " (no default region: give it in international form)"
        warnings.append(ErrorDetail(INVALID, path, f"not a valid phone number{where}; kept, not dialled"))
    if all(ph.invalid for ph in out):
        err = ErrorDetail(NONE_VALID, out[0].path or "/phones", "no valid phone number remains")
        return replace(reject(p, err), warnings=warnings)
    contact = rec.contact.model_copy(update={"phones": out})
    return replace(p, record=rec.model_copy(update={"contact": contact}), warnings=warnings)
