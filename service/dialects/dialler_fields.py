"""The DiallerContact's fields (seed 002) and the dialling-window timestamps.

``CONTACT_FIELDS`` is the import's field list in the seed's own order; the dialer-state fields only
appear in responses. ``STANDARD_FIELDS`` are the ones kept under their vendor names in
``Contact.fields``; the others map onto canonical members (name, email, phones, window, key, campaign).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.model.localtime import wall_time, zone_error

PHONES = tuple(f"PhoneNumber{n}" for n in range(1, 7))
CAMPAIGN_ID = "DiallerCampaignsID"
CAMPAIGN_NAME = "DiallerCampaignsName"
USER_DATA = "UserData"
WINDOW = {"dtBeginDate": "window_begin", "dtEndDate": "window_end"}
DATETIME_FIELDS = ("FollowUpDateTime", *WINDOW)

CONTACT_FIELDS: tuple[str, ...] = (
    CAMPAIGN_ID,
    CAMPAIGN_NAME,
    "RandomSortOrder",
    USER_DATA,
    "Client",
    "Service",
    "ReferenceNumber",
    "Name",
    "FirstName",
    "Salutation",
    "Title",
    "Company",
    "Address",
    "PostalCode",
    "City",
    "Country",
    "AccountOwner",
    "AccountBank",
    "AccountNationalBankCode",
    "AccountBIC",
    "AccountNumber",
    "AccountIBAN",
    "Amount",
    *PHONES,
    "FaxNumber",
    "Email",
    "Website",
    "Comment",
    "ReservedUsersUID",
    "FollowUpUsersUID",
    "FollowUpDateTime",
    "dtBeginDate",
    "dtEndDate",
    "Manufacturer",
    "Model",
    "Tag",
    "ExternalSystemLink",
)
# The dialer's invalid flag per phone (a response field): accepted on input, a true one is respected.
INVALID_FLAGS = {phone: f"b{phone}Invalid" for phone in PHONES}
ACCEPTED = frozenset({*CONTACT_FIELDS, *INVALID_FLAGS.values()})
MAPPED = frozenset({CAMPAIGN_ID, CAMPAIGN_NAME, USER_DATA, "Name", "Email", *PHONES, *WINDOW})
STANDARD_FIELDS: tuple[str, ...] = tuple(f for f in CONTACT_FIELDS if f not in MAPPED)
_BY_LOWER = {f.lower(): f for f in CONTACT_FIELDS}

# Dialer state the vendor returns with every contact; a freshly imported contact has no history.
STATE_FIELDS: tuple[str, ...] = (
    "bLastResultMailbox",
    *(f"bPhoneNumber{n}Invalid" for n in range(1, 7)),
    *(f"nTriesPhoneNumber{n}" for n in range(1, 7)),
    *(f"nPhoneNumber{n}LastCause" for n in range(1, 7)),
    *(f"PhoneNumber{n}LastAcdAgentEndReasonsID" for n in range(1, 7)),
    "LastAcdAgentEndReasonsID",
    "dtNextTry",
)


def state_defaults() -> dict[str, Any]:
    """The dialer state of a contact never dialled: no tries, no causes, nothing marked invalid."""
    return {f: 0 if f.startswith("nTries") else None for f in STATE_FIELDS}


def known_spelling(name: str) -> str | None:
    """The field ``name`` probably meant when only its case differs (``name`` → ``Name``)."""
    return _BY_LOWER.get(name.lower())


def vendor_datetime(value: Any, zone: Any = None) -> Any:
    """A stored timestamp in the vendor's form: the local time of ``zone`` (the zone it was given in;
    none: UTC) without offset (``2020-01-01T00:00:00``)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = wall_time(parsed, zone if isinstance(zone, str) and not zone_error(zone) else None)
    return parsed.isoformat()
