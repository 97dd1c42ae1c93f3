"""The dialler's native response, rendered from an outcome's stored contact snapshot.

Imported (or kept) contact: ``{"records": [<DiallerContact>], "count": 1, "status": 200}``, the
DiallerContact carrying every import field (``null`` when not set) and the dialer-state fields.
A FAILED record: ``{"records": [], "count": 0, "status": 400, "message": <first error message>}``.
"""

from __future__ import annotations

from typing import Any

from service.dialects.dialler_fields import (
    CAMPAIGN_ID,
    CAMPAIGN_NAME,
    CONTACT_FIELDS,
    INVALID_FLAGS,
    PHONES,
    USER_DATA,
    WINDOW,
    state_defaults,
    vendor_datetime,
)
from service.model.outcome import Outcome, Status

NOT_IMPORTED = "the contact was not imported"


def response(outcome: Outcome, campaign_name: str | None) -> dict[str, Any]:
    """The vendor-shaped response for one outcome."""
    if outcome.status is Status.FAILED or not outcome.contact:
        message = outcome.errors[0].message if outcome.errors else NOT_IMPORTED
        return {"records": [], "count": 0, "status": 400, "message": message}
    return {"records": [diallercontact(outcome.contact, outcome.campaign, campaign_name)], "count": 1, "status": 200}


def diallercontact(snap: dict[str, Any], campaign: str | None, campaign_name: str | None) -> dict[str, Any]:
    """A stored contact snapshot as a DiallerContact; fields the snapshot lacks are ``null``."""
    fields: dict[str, Any] = snap.get("fields") or {}
    mapped: dict[str, Any] = {
        CAMPAIGN_ID: campaign_id(snap.get("campaign", campaign)),
        CAMPAIGN_NAME: campaign_name,
        USER_DATA: snap.get("user_data"),
        "Name": snap.get("name"),
        "Email": snap.get("email"),
        **phone_slots(snap.get("phones") or []),
        **{vendor: vendor_datetime(snap.get(member), snap.get("window_zone")) for vendor, member in WINDOW.items()},
    }
    out = {f: mapped[f] if f in mapped else fields.get(f) for f in CONTACT_FIELDS}
    state = state_defaults()
    state["dtNextTry"] = vendor_datetime(snap.get("next_call_at"), snap.get("next_call_zone"))
    invalid = {p.get("number") for p in snap.get("phones") or [] if p.get("invalid")}
    for slot, flag in INVALID_FLAGS.items():
        if out[slot] is not None and out[slot] in invalid:
            state[flag] = True  # flagged on input or found invalid on import
    return {**out, **state}


def campaign_id(campaign: Any) -> Any:
    """The campaign id as the vendor writes it: a number when the catalog id is a plain number."""
    if isinstance(campaign, str) and campaign.isascii() and campaign.isdigit() and str(int(campaign)) == campaign:
        return int(campaign)
    return campaign


def phone_slots(phones: list[dict[str, Any]]) -> dict[str, Any]:
    """PhoneNumber1..6 from the stored phones: by their type, then any other phones in order."""
    slots: dict[str, Any] = {}
    rest: list[Any] = []
    for phone in phones:
        kind = phone.get("type")
        if kind in PHONES and kind not in slots:
            slots[kind] = phone.get("number")
        else:
            rest.append(phone.get("number"))
    for slot in PHONES:
        if slot not in slots:
            slots[slot] = rest.pop(0) if rest else None
    return slots
