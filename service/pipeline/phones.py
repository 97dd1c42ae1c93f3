"""Normalise every record's phones before the store: E.164, time zones, undialable numbers flagged.

Each number gets one of three verdicts (``verdict``):

- *valid*: libphonenumber knows it; stored in E.164 (``raw`` keeps it as given) with its time zones.
- *no region*: written nationally (digits and separators only) while neither the campaign nor the
  service names a region, so it cannot be checked. Kept as given, dialable, no time zone, with the
  warning ``phone.no_region``.
- *invalid*: not a number of its region (or not a number at all). Kept as given, flagged
  ``invalid: true``, never put on the dial list, with the warning ``phone.invalid``. A number the input
  already flags invalid (the dialler's ``bPhoneNumberNInvalid``) is respected (``phone.flagged_invalid``).

Digits after a ``*`` or ``#`` (iSales ``calledNo`` allows them) are post-dial digits: the number before
them is what is read, the rest is kept in ``post_dial`` and queued with the number.

An undialable number never fails its record: the dialects' own presence rules decide whether a record
without phones fails. Only a campaign whose phone policy is ``reject`` fails a record none of whose
numbers can be dialled (``phone.none_valid``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from enum import StrEnum

from service.catalog.model import Catalog, PhonePolicy
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, Phone
from service.model.phones import normalise, region_code
from service.model.records import Parsed
from service.pipeline.access import reject

INVALID = "phone.invalid"
NO_REGION = "phone.no_region"
FLAGGED = "phone.flagged_invalid"
NONE_VALID = "phone.none_valid"

_NATIONAL = re.compile(r"[0-9][0-9 ().\-/]*")  # a number written without its country: digits and separators
_POST_DIAL = re.compile(r"[*#]")


class Verdict(StrEnum):
    VALID = "valid"
    NO_REGION = "no_region"
    INVALID = "invalid"


def region_for(catalog: Catalog, tenant: str, campaign: str, fallback: str | None) -> str | None:
    """The default region of a campaign's numbers: the catalog's, else the service's setting."""
    found = catalog.campaign(tenant, campaign)
    return region_code(found.default_region if found else None) or region_code(fallback)


def verdict(number: str, region: str | None) -> Verdict:
    """What can be said of ``number`` (post-dial digits already split off) read with ``region``."""
    if normalise(number, region).valid:
        return Verdict.VALID
    if region is None and _NATIONAL.fullmatch(number.strip()) and sum(c.isdigit() for c in number) >= 3:
        return Verdict.NO_REGION
    return Verdict.INVALID


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
    out = [_phone(phone, j, region, warnings) for j, phone in enumerate(phones)]
    campaign = catalog.campaign(rec.tenant, rec.campaign)
    if campaign is not None and campaign.phone_policy is PhonePolicy.REJECT and all(ph.invalid for ph in out):
        message = "no dialable phone number, and the campaign's phone policy is reject"
        err = ErrorDetail(NONE_VALID, out[0].path or "/phones", message)
        return replace(reject(p, err), warnings=warnings)
    contact = rec.contact.model_copy(update={"phones": out})
    return replace(p, record=rec.model_copy(update={"contact": contact}), warnings=warnings)


def _phone(phone: Phone, j: int, region: str | None, warnings: list[ErrorDetail]) -> Phone:
    """``phone`` read with ``region``; its warning, if any, appended to ``warnings``."""
    path = phone.path or f"/phones/{j}/number"
    if phone.invalid:
        warnings.append(ErrorDetail(FLAGGED, path, "the number is flagged invalid in the input; not dialled"))
        return phone
    number, post_dial = _split_post_dial(phone.number)
    extra = {"post_dial": post_dial} if post_dial else {}
    found = verdict(number, region) if number else Verdict.INVALID
    if found is Verdict.VALID:
        n = normalise(number, region)
        assert n.e164 is not None
        raw = phone.number if phone.number != n.e164 else None
        return phone.model_copy(update={"number": n.e164, "raw": raw, "time_zones": n.time_zones, **extra})
    if found is Verdict.NO_REGION:
        message = "a national number and no region is known for the campaign: kept as given, dialable, no time zone"
        warnings.append(ErrorDetail(NO_REGION, path, message))
        raw = phone.number if post_dial else None
        return phone.model_copy(update={"number": number, "raw": raw, **extra})
    where = f" for region {region}" if region else ""
    warnings.append(ErrorDetail(INVALID, path, f"not a valid phone number{where}; kept, flagged, not dialled"))
    return phone.model_copy(update={"invalid": True})


def _split_post_dial(number: str) -> tuple[str, str | None]:
    """``"0301234567*12#"`` -> ``("0301234567", "*12#")``: the digits after a ``*`` or ``#`` are dialled
    once the call connects."""
    found = _POST_DIAL.search(number)
    if found is None:
        return number, None
    return number[: found.start()], number[found.start() :]
